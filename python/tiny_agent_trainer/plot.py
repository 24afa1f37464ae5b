"""Plots as PNGs: a run's curves (train and validation loss per epoch above, the learning rate
below), drawn by `tat plot RUN_DIR` and `make curve` with `plot_run`; an experiment's validation
curves, one panel per group of runs, drawn by `tat plot EXPERIMENT_DIR` with `plot_experiment`;
and a binding run's heat map of where each output word was read from, drawn by `tat plot RUN_DIR
--input PROGRAM` with `plot_binding`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ._core import CheckpointError, FileError, experiment_record, read_metrics
from ._files import atomic_output

PNG_NAME = "loss.png"
"""The file `plot_run` writes into the run folder unless told otherwise."""
STEPS_NAME = "steps.csv"
"""A run's per-step log, written by the engine's learner."""
EXPERIMENT_PNG_NAME = "curves.png"
"""The file `plot_experiment` writes into the experiment folder unless told otherwise."""
BINDING_PNG_NAME = "binding.png"
"""The file `plot_binding` writes into the run folder unless told otherwise."""


def plot_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Plots the epochs recorded in `run_dir` to `out` (default `RUN_DIR/loss.png`) and returns
    the PNG's path. Raises `CheckpointError` when the folder has no epochs recorded, `FileError`
    when the PNG cannot be written."""
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir)
    epochs = metrics["epoch"]
    if len(epochs) == 0:
        raise CheckpointError(
            f"{run_dir}: no epochs recorded (no metrics.jsonl, or an empty one). "
            "Fix: pass a run folder that `train` has finished at least one epoch in."
        )
    png = run_dir / PNG_NAME if out is None else Path(out)
    # A Figure without pyplot: no global backend or open-figure state in the caller's process.
    fig = Figure(figsize=(7, 6))
    loss_ax, lr_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    loss_ax.plot(epochs, metrics["train_loss"], label="train loss")
    loss_ax.plot(epochs, metrics["val_loss"], label="val loss")
    loss_ax.axhline(0.1, color="grey", linestyle=":", label="0.1")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("cross-entropy (per token)")
    loss_ax.legend()
    minutes = float(metrics["seconds"].sum()) / 60
    loss_ax.set_title(f"{run_dir}: {len(epochs)} epochs, {minutes:.1f} min of training")
    lr_ax.plot(epochs, metrics["lr"], color="tab:green")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("epoch")
    fig.tight_layout()
    _save(fig, png)
    return png


def plot_experiment(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Plots an experiment folder's runs to `out` (default `RUN_DIR/curves.png`) and returns the
    PNG's path: one panel per first part of the run names (`to_gsm8k/...`), each trained run's
    training loss (smoothed) and validation loss against its optimizer steps, each evaluated run
    (a frozen model) as a dashed line. Raises `CheckpointError` when the folder holds no experiment record."""
    run_dir = Path(run_dir)
    text = experiment_record(run_dir)
    if text is None:
        raise CheckpointError(f"{run_dir}: no experiment.json. Fix: pass the folder `train` wrote for an experiment file.")
    runs = json.loads(text)["runs"]
    panels: dict[str, list[dict]] = {}
    for run in runs:
        panel = run["name"].split("/")[0] if "/" in run["name"] else "trained from scratch"
        panels.setdefault(panel, []).append(run)
    png = run_dir / EXPERIMENT_PNG_NAME if out is None else Path(out)
    fig = Figure(figsize=(9, 4.5 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (panel, members) in zip(axes, panels.items()):
        for run in members:
            label = run["name"].removeprefix(f"{panel}/")
            if run["status"] != "done":
                label += f" ({run['status']})"
            if run["action"] == "evaluate":
                ax.axhline(run["numbers"].get("val_loss", float("nan")), color="black", linestyle="--", label=label)
                continue
            folder = run_dir / run["name"]
            metrics = read_metrics(folder)
            steps_csv = folder / STEPS_NAME
            if steps_csv.exists():
                steps = np.loadtxt(steps_csv, delimiter=",", skiprows=1, ndmin=2)
                line = ax.plot(steps[:, 0], _smooth(steps[:, 2]), linewidth=1, label=label)[0]
                ax.plot(metrics["step"], metrics["val_loss"], "o", color=line.get_color())
            else:
                ax.plot(metrics["step"], metrics["val_loss"], marker="o", label=label)
        ax.set_title(f"{panel}: training loss (smoothed, lines) and validation loss (dots)")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss per real token")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    _save(fig, png)
    return png


def _smooth(values: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """An exponential moving average that skips `nan` (skipped steps), unbiased at the start."""
    out = np.empty_like(values)
    average, total = 0.0, 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            average = weight * average + (1 - weight) * v
            total = weight * total + (1 - weight)
        out[i] = average / total if total > 0 else np.nan
    return out


def plot_binding(
    run_dir: str | os.PathLike[str], program: str, out: str | os.PathLike[str] | None = None
) -> Path:
    """Draws the binder's `binding_scores` for `program`: one row per output word, one column per
    input word, darker where the word was read from; the true source positions are outlined.
    Writes `out` (default `RUN_DIR/binding.png`) and returns its path. A program outside the
    language raises `BindingError` naming the word."""
    from .tasks import binding, binding_model

    model = binding_model.BindingModel.load(run_dir)
    result = model.run(program)
    truth = binding.trace(program)
    scores = result["binding_scores"]
    words = program.split()
    rows = [f"{i}: {w}" for i, w in enumerate(result["output"])]
    if len(scores) == 0:
        scores, rows = np.zeros((1, len(words))), ["(no output)"]
    png = Path(run_dir) / BINDING_PNG_NAME if out is None else Path(out)
    fig = Figure(figsize=(max(6.0, 0.45 * len(words) + 2), max(2.5, 0.4 * len(scores) + 1.8)))
    ax = fig.subplots()
    image = ax.imshow(scores, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(words)), words, rotation=60, ha="right")
    ax.set_yticks(range(len(scores)), rows)
    for row, column in enumerate(truth.source_positions[: len(result["output"])]):
        ax.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=1.5))
    expected = truth.output
    verdict = "correct" if " ".join(result["output"]) == expected else f"expected {expected}"
    ax.set_title(f"binding scores of {model.path} ({verdict}; red: true source)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    _save(fig, png)
    return png


def _save(fig: Figure, png: Path) -> None:
    with atomic_output(png, "PNG") as tmp:
        fig.savefig(tmp, dpi=110)
