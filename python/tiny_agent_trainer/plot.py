"""A run's curves as a PNG: train and validation loss per epoch above, the learning rate below.

`tat plot RUN_DIR` and `make curve` draw them with `plot_run`.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from ._core import CheckpointError, FileError, read_metrics

PNG_NAME = "loss.png"
"""The file `plot_run` writes into the run folder unless told otherwise."""


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
    try:
        fig.savefig(png, dpi=110)
    except OSError as e:
        raise FileError(f"{png}: {e.strerror}. Fix: write the PNG into an existing, writable folder.") from None
    return png
