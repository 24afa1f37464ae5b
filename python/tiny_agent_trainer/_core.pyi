# Stubs of the native module (crates/tat-py), checked against it by tests/python/test_api.py
# with mypy.stubtest.

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, final, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "TatError",
    "ConfigError",
    "DatasetError",
    "CheckpointError",
    "UsageError",
    "InvalidWgslError",
    "FileError",
    "TorchError",
    "DivergedError",
    "EXIT_INTERRUPTED",
    "Model",
    "Transducer",
    "Classifier",
    "Completer",
    "Agent",
    "EvalReport",
    "Diagnostic",
    "validate_wgsl",
    "train",
    "read_metrics",
    "train_experiment",
    "is_experiment",
    "experiment_record",
    "experiment_table",
    "show_config",
    "list_configs",
    "write_starter",
    "device_report",
    "config_schema",
    "config_load",
    "config_parse",
    "config_check",
    "config_with_overrides",
    "config_to_toml",
    "task_specs",
    "config_task",
    "run_task",
    "classification_eval",
    "validation_eval",
]

__version__: str

EXIT_INTERRUPTED: int

class TatError(Exception):
    exit_code: ClassVar[int]

class ConfigError(TatError): ...
class DatasetError(TatError): ...
class CheckpointError(TatError): ...
class UsageError(TatError): ...
class InvalidWgslError(TatError): ...
class FileError(TatError): ...
class TorchError(TatError): ...
class DivergedError(TatError): ...

@final
class Diagnostic:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __new__(cls, line: int, column: int, message: str) -> Diagnostic: ...
    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def message(self) -> str: ...
    def render(self, file: str = "<input>") -> str: ...

def validate_wgsl(source: str, snippet: bool = True) -> list[Diagnostic]: ...

@final
class Transducer:
    @staticmethod
    def load(
        path: str | os.PathLike[str], device: str = "auto", threads: int | None = None, precision: str | None = None
    ) -> Transducer: ...
    def predict(self, inputs: list[str]) -> list[str]: ...
    def explain(self, input: str) -> dict[str, Any]: ...
    @property
    def vocabulary(self) -> list[str]: ...
    @property
    def config(self) -> str: ...
    @property
    def path(self) -> Path: ...

@final
class Model:
    @staticmethod
    def load(
        path: str | os.PathLike[str], device: str = "auto", threads: int | None = None, precision: str | None = None
    ) -> Model: ...
    @property
    def precision(self) -> str: ...
    @property
    def precision_reason(self) -> str: ...
    @overload
    def generate(
        self,
        prompt: str,
        *,
        max_new_tokens: int | None = None,
        beam: int = 1,
        length_penalty: float = 1.0,
        prefer_valid: bool = False,
        temperature: float | None = None,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        constrain: str | None = None,
    ) -> str: ...
    @overload
    def generate(
        self,
        prompt: list[str],
        *,
        max_new_tokens: int | None = None,
        beam: int = 1,
        length_penalty: float = 1.0,
        prefer_valid: bool = False,
        temperature: float | None = None,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        constrain: str | None = None,
    ) -> list[str]: ...
    def evaluate(
        self,
        split: str | None = None,
        data: str | os.PathLike[str] | None = None,
        *,
        requests: str | os.PathLike[str] | None = None,
        max_new_tokens: int | None = None,
        beam: int = 1,
        length_penalty: float = 1.0,
        prefer_valid: bool = False,
        temperature: float | None = None,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        constrain: str | None = None,
        save: bool = True,
        on_progress: Callable[[int, int], object] | None = None,
    ) -> EvalReport: ...
    def token_ids(self, text: str) -> npt.NDArray[np.int64]: ...
    @property
    def config(self) -> str: ...
    @property
    def max_new_tokens(self) -> int: ...
    @property
    def path(self) -> Path: ...

@final
class EvalReport(dict[str, Any]):
    def table(self) -> str: ...
    def misses(self) -> str: ...
    def to_json(self) -> str: ...
    @property
    def saved(self) -> Path | None: ...

def train(
    config_toml: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    on_start: Callable[[dict[str, Any]], object] | None = None,
    on_epoch: Callable[[dict[str, Any]], object] | None = None,
    on_step: Callable[[dict[str, Any]], object] | None = None,
    device: str | None = None,
    threads: int | None = None,
    out: str | os.PathLike[str] | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    overrides: list[str] = ...,
    examples: dict[str, list[tuple[str, str]]] | None = None,
    data: Any = None,
    collective: Any = None,
) -> dict[str, Any]: ...
def read_metrics(run_dir: str | os.PathLike[str]) -> dict[str, npt.NDArray[Any]]: ...
def train_experiment(
    path: str | os.PathLike[str],
    *,
    resume: bool = False,
    on_run: Callable[[int, int, str, str, str | None, float | None], None] | None = None,
    on_start: Callable[[dict[str, Any]], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    device: str | None = None,
    out: str | os.PathLike[str] | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    overrides: list[str] = ...,
) -> str: ...
def is_experiment(path: str | os.PathLike[str]) -> bool: ...
def experiment_record(run_dir: str | os.PathLike[str]) -> str | None: ...
def experiment_table(run_dir: str | os.PathLike[str]) -> str: ...
def show_config(path: str | os.PathLike[str]) -> str: ...
def list_configs(dir: str | os.PathLike[str]) -> list[tuple[str, str]]: ...
def write_starter(dir: str | os.PathLike[str], force: bool = False) -> tuple[str, str]: ...
def device_report() -> str: ...

@final
class Classifier:
    """A trained classifier (the bionet task): class predictions and accuracy per split."""

    @staticmethod
    def load(path: str | os.PathLike[str], device: str = "auto", threads: int | None = None) -> Classifier: ...
    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]: ...
    def evaluate(self, splits: list[str] = ...) -> dict[str, dict[str, Any]]: ...
    def data(self, split: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...
    @property
    def config_toml(self) -> str: ...
    @property
    def layers(self) -> list[int]: ...
@final
class Completer:
    """A trained masked-diffusion run: completes prompts by iterative unmasking."""

    @staticmethod
    def load(path: str | os.PathLike[str], device: str = "auto", threads: int | None = None) -> Completer: ...
    def complete(
        self,
        prompts: list[str],
        max_new_tokens: int = 64,
        steps: int = 10,
        temperature: float | None = None,
        seed: int = 0,
    ) -> list[str]: ...
    @property
    def config_toml(self) -> str: ...

@final
class Agent:
    """A trained grid-world agent: answers and pictures for batches of pictures and prompts."""

    @staticmethod
    def load(
        path: str | os.PathLike[str], device: str = "auto", threads: int | None = None, precision: str | None = None
    ) -> Agent: ...
    @property
    def path(self) -> Path: ...
    @property
    def image_size(self) -> int: ...
    @property
    def max_canvases(self) -> int: ...
    def answer(
        self,
        images: npt.NDArray[np.uint8],
        canvases: npt.NDArray[np.uint8],
        prompts: list[str],
        pictures: bool = False,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> tuple[list[str], npt.NDArray[np.uint8] | None]: ...
    def score(
        self,
        images: npt.NDArray[np.uint8],
        canvases: npt.NDArray[np.uint8],
        prompts: list[str],
        answers: list[str],
    ) -> list[float]: ...
    def prompt_states(
        self,
        images: npt.NDArray[np.uint8],
        canvases: npt.NDArray[np.uint8],
        prompts: list[str],
    ) -> npt.NDArray[np.float32]: ...

def config_schema() -> str: ...
def config_load(path: str | os.PathLike[str]) -> str: ...
def config_parse(text: str, file: str = "<string>") -> str: ...
def config_check(json: str, file: str = "<dict>") -> str: ...
def config_with_overrides(json: str, overrides: list[str]) -> str: ...
def config_to_toml(json: str) -> str: ...
def task_specs() -> list[dict[str, Any]]: ...
def config_task(config_path: str | os.PathLike[str]) -> dict[str, Any]: ...
def run_task(path: str | os.PathLike[str]) -> dict[str, Any] | None: ...
def classification_eval(path: str | os.PathLike[str], device: str = "auto") -> dict[str, Any]: ...
def validation_eval(path: str | os.PathLike[str], device: str = "auto", overrides: list[str] = ...) -> dict[str, Any]: ...
