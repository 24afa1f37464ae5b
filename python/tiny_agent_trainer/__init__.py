"""tiny-agent-trainer: train small task-specific transformer agents from one TOML file.

The engine is Rust on libtorch (`tiny_agent_trainer._core`); this package is the thin Python
front: configs, the inference and training API and the `tat` command.
"""

# The extension links against torch's libtorch: loading torch first puts it in the process.
import torch  # noqa: F401  (imported for its side effect)

from ._core import (
    CheckpointError,
    ConfigError,
    DatasetError,
    Diagnostic,
    DivergedError,
    EvalReport,
    FileError,
    InvalidWgslError,
    Model,
    TatError,
    TorchError,
    UsageError,
    __version__,
    validate_wgsl,
)
from .api import EpochMetrics, Run, StepProgress, load, train
from .config import Config

__all__ = [
    "CheckpointError",
    "Config",
    "ConfigError",
    "DatasetError",
    "Diagnostic",
    "DivergedError",
    "EpochMetrics",
    "EvalReport",
    "FileError",
    "InvalidWgslError",
    "Model",
    "Run",
    "StepProgress",
    "TatError",
    "TorchError",
    "UsageError",
    "__version__",
    "load",
    "train",
    "validate_wgsl",
]
