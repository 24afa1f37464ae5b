"""The task registry as fronts use it. The engine holds the registry (`_core.task_specs()`): each
task kind, whether it works on text, how its runs are evaluated, and the Python module that makes
or scores its data, if any. Fronts look a config's or a run's task up here; none of them branches
on a task's name.

A Python task module provides:

- `train(config, *, resume, on_start, on_step, on_epoch) -> Path`: trains the runs a config
  describes and returns the run folder (`on_start` receives `(model, seed, info)`);
- `owns_run(path) -> bool`: whether `path` is a run folder it wrote;
- `owns_path(path) -> bool`: whether `path` is such a run, or a model or checkpoint inside one;
- `evaluate(run_dir, *, device, precision, on_progress)`: a report with `table()` and
  `to_dict()`, also written to `run_dir / REPORT_NAME`;
- `load(path, *, device, threads, precision)`: the model for inference;
- optionally `plot(run_dir, item, out) -> Path`: draws what the model does with one input (`tat
  plot RUN_DIR --input ITEM`) and returns the PNG's path.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from .. import _core


def specs() -> list[dict[str, Any]]:
    """Every task kind the engine knows, with `name`, `text`, `python_module` and `evaluator`."""
    return list(_core.task_specs())


def python_modules() -> list[ModuleType]:
    """The Python modules of the tasks that have one, in registry order."""
    return [importlib.import_module(s["python_module"]) for s in specs() if s["python_module"]]


def module_for_config(path: str | os.PathLike[str]) -> ModuleType | None:
    """The Python module of the task a config file names, or None when the engine alone trains it.
    A config that does not load raises its `ConfigError`."""
    module = _core.config_task(path)["python_module"]
    return None if module is None else importlib.import_module(module)


def module_for_run(path: str | os.PathLike[str]) -> ModuleType | None:
    """The Python module that wrote the run folder `path`, if one did."""
    return next((m for m in python_modules() if m.owns_run(path)), None)


def module_for_path(path: str | os.PathLike[str]) -> ModuleType | None:
    """The Python module that owns `path` (a run, or a model or checkpoint inside one), if one does."""
    return next((m for m in python_modules() if m.owns_path(path)), None)


def run_evaluator(path: str | os.PathLike[str]) -> str | None:
    """How the engine evaluates the run or checkpoint at `path` (`generation`, `classification`),
    or None when `path` holds no engine checkpoint."""
    spec = _core.run_task(path)
    return None if spec is None else spec["evaluator"]


def run_completion(path: str | os.PathLike[str]) -> str | None:
    """How the run at `path` answers a prompt (`autoregressive`, `unmasking`, `none`), or None
    when no engine checkpoint is there."""
    spec = _core.run_task(path)
    return None if spec is None else spec["completion"]
