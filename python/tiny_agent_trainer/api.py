"""The inference and training API: thin wrappers over the native module `_core`.

```python
import tiny_agent_trainer as tat
model = tat.load("runs/wgsl_generation")
model.generate("Create a red color")
run = tat.train(tat.Config.from_toml("config/wgsl_small.toml"), on_epoch=print)
```
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from . import _core
from ._core import Model

if TYPE_CHECKING:
    from .config import Config
    from .tasks.binding_model import BindingModel

ConfigLike = Union["Config", str, "os.PathLike[str]"]
"""A `Config`, or the path of a config file."""


def load(
    path: str | os.PathLike[str], device: str = "auto", threads: int | None = None, precision: str | None = None
) -> Model | BindingModel | _core.Classifier | _core.Completer:
    """Loads a run folder (its `best`, else `last`) or a checkpoint folder: a `Model` for WGSL
    runs, a `BindingModel` (`predict`, `run`) for binding runs, a `Classifier` (`predict` on a
    numpy array of inputs, `evaluate`) for bionet runs, a `Completer` (`complete` by iterative
    unmasking) for masked-diffusion runs. The engine's task registry says which.

    `device` is `auto` (CUDA when available), `cpu` or `cuda`; `threads` sets libtorch's CPU
    threads for the process; `precision` (`auto`, `fp32`, `bf16`) replaces the precision the run
    was trained with (weights are kept in fp32, so either works). Raises `CheckpointError` when
    there is no checkpoint there.
    """
    from .tasks import registry

    task = registry.module_for_path(path)
    if task is not None:
        return task.load(path, device=device, threads=threads, precision=precision)  # type: ignore[no-any-return]
    if registry.run_evaluator(path) == "classification":
        return _core.Classifier.load(path, device=device, threads=threads)
    if registry.run_completion(path) == "unmasking":
        return _core.Completer.load(path, device=device, threads=threads)
    return Model.load(path, device=device, threads=threads, precision=precision)


@dataclass(frozen=True)
class EpochMetrics:
    """One finished epoch, as `on_epoch` receives it (a row of the run's `metrics.jsonl`)."""

    epoch: int
    step: int
    train_loss: float
    val_loss: float
    lr: float
    seconds: float
    examples_per_sec: float
    tokens_per_sec: float
    best: bool
    precision: str
    val_accuracy: float | None = None
    """Validation accuracy, for tasks that classify (a bionet); None otherwise."""


@dataclass(frozen=True)
class StepProgress:
    """One optimizer step, as `on_step` receives it."""

    epoch: int
    batch: int
    batches: int
    loss: float
    lr: float
    examples_per_sec: float


@dataclass(frozen=True)
class Run:
    """What `train` returns: the summary, and the run's metrics with one numpy array per column
    (`epoch`, `step`, `train_loss`, `val_loss`, `lr`, `seconds`, `examples_per_sec`,
    `tokens_per_sec`, `best`, `precision`, `val_accuracy` (NaN where a task has none))."""

    run_dir: Path
    epochs_completed: int
    best_val_loss: float | None
    best_epoch: int
    last_train_loss: float | None
    stopped_early: bool
    metrics: dict[str, npt.NDArray[Any]]

    @property
    def epoch(self) -> npt.NDArray[np.int64]:
        return self.metrics["epoch"]

    @property
    def train_loss(self) -> npt.NDArray[np.float64]:
        return self.metrics["train_loss"]

    @property
    def val_loss(self) -> npt.NDArray[np.float64]:
        return self.metrics["val_loss"]

    @property
    def lr(self) -> npt.NDArray[np.float64]:
        return self.metrics["lr"]

    def load(self, device: str = "auto", threads: int | None = None, precision: str | None = None) -> Model:
        """The run's model (its `best` checkpoint, else `last`)."""
        return Model.load(self.run_dir, device=device, threads=threads, precision=precision)


def train(
    config: ConfigLike,
    *,
    on_epoch: Callable[[EpochMetrics], object] | None = None,
    on_step: Callable[[StepProgress], object] | None = None,
    resume: bool = False,
    device: str | None = None,
    threads: int | None = None,
    out: str | os.PathLike[str] | None = None,
    data: dict[str, Any] | None = None,
    collective: Any = None,
) -> Run:
    """Trains `config` (a `Config` or a config file's path) like `tiny-agent-trainer train`.

    `data` hands the engine numpy arrays instead of the config's dataset, for tasks that take
    them (a bionet with `dataset.source = "python"`): `{"train": arrays, "val": arrays,
    "test": arrays}` (`test` optional), each a dict such as `{"x": float32 [N, D], "labels":
    int64 [N]}`. `train` may instead be a callable `(seed, epoch) -> arrays` that the learner
    calls for a fresh training set every epoch; it must be a pure function of its arguments, so a
    resumed run sees the data an uninterrupted one saw.

    Under `torchrun` every process calls `train` with the same arguments and they train one
    model together (`tiny_agent_trainer.distributed`): each takes its share of every batch, and
    rank 0 writes the run. `collective` names the process group to use instead of torchrun's
    (a `distributed.TorchCollective`).

    `device`, `threads` and `out` override `training.device`, `training.threads` and
    `training.output_dir`; `resume` continues the run from its `last` checkpoint. Ctrl-C saves
    `last` and raises `KeyboardInterrupt`; an exception in a callback also saves `last` and is
    raised here. Bad input raises `ConfigError`, `DatasetError`, `CheckpointError`, ...
    """
    text: str | None = None
    source: str | os.PathLike[str] | None = None
    if isinstance(config, (str, os.PathLike)):
        source = config
    else:
        # The file it was read from: relative dataset paths resolve against its folder.
        text, source = config.to_toml(), config.source
    if collective is None:
        from . import distributed

        collective = distributed.from_environment(device)
    summary = _core.train(
        text,
        source,
        resume=resume,
        on_epoch=None if on_epoch is None else lambda m: on_epoch(EpochMetrics(**m)),
        on_step=None if on_step is None else lambda p: on_step(StepProgress(**p)),
        device=device,
        threads=threads,
        out=out,
        data=data,
        collective=collective,
    )
    run_dir = Path(summary.pop("run_dir"))
    return Run(run_dir=run_dir, metrics=_core.read_metrics(run_dir), **summary)

