"""Pictures for people: a grid of a framework's examples (`tat agent show`) and an animated GIF
of a closed-loop episode (`tat agent episode`). matplotlib and Pillow are imported here only, as
they are slow to import."""

from __future__ import annotations

import json
import math
import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from ..._core import FileError
from ..._files import atomic_output
from .evaluate import Episodes
from .frameworks.base import Batch, Framework
from .game import MOVES
from .render import render


def examples_png(framework: Framework, batch: Batch, out: str | os.PathLike[str], dpi: int = 80) -> Path:
    """Draws `batch` to the PNG `out`, one row per example: the input picture, the canvases
    (oldest first), the target picture where there is one, then the question, prompt and answer."""
    canvases = batch.canvases.shape[1]
    titles = ["input"] + [f"canvas {i + 1}" for i in range(canvases)] + (["target"] if batch.target is not None else [])
    pictures, texts = [], []
    for row in range(len(batch)):
        pictures.append([batch.image[row], *batch.canvases[row]] + ([batch.target[row]] if batch.target is not None else []))
        q = int(batch.question[row])
        lines = [f"[{framework.questions[q].name}]"] if q >= 0 else []
        lines += textwrap.wrap(f"prompt: {batch.prompt[row]}", 34) + textwrap.wrap(f"answer: {batch.answer[row]}", 34)
        texts.append(lines)
    return _rows_png(framework.name, titles, pictures, texts, Path(out), dpi, 2.4)


def _rows_png(
    title: str, titles: list[str], pictures: list[list[np.ndarray]], texts: list[list[str]], out: Path, dpi: int, width: float
) -> Path:
    """A PNG with one row per example: its pictures under `titles`, then its lines of text."""
    from matplotlib.figure import Figure

    n, columns = len(pictures), len(titles)
    fig = Figure(figsize=(1.25 * columns + width + 0.6, 1.35 * n + 0.45))
    axes = fig.subplots(n, columns + 1, squeeze=False, gridspec_kw={"width_ratios": [1] * columns + [width]})
    for row in range(n):
        for col, (ax, picture) in enumerate(zip(axes[row], pictures[row])):
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=8)
        text_ax = axes[row, -1]
        text_ax.axis("off")
        text_ax.text(0.0, 0.5, "\n".join(texts[row]), fontsize=7.5, va="center", ha="left", transform=text_ax.transAxes)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, out, dpi)


def episode_gif(
    episodes: Episodes, out: str | os.PathLike[str], size: int = 96, scale: int = 3, frame_ms: int = 150
) -> Path:
    """Writes the first of recorded `episodes` as an animated GIF: one frame per step (captioned
    with the move then made) and the final state (held longer), upscaled `scale` times with
    nearest neighbour."""
    from PIL import Image, ImageDraw

    frames, captions = [], []
    for step, (scenes, moves) in enumerate(episodes.history):
        move = int(moves[0])
        frames.append(render(scenes.select([0]), size)[0])
        captions.append(f"move {step + 1}: {MOVES[move] if move >= 0 else '(none)'}")
    frames.append(render(episodes.final.select([0]), size)[0])
    steps = int(episodes.steps[0])
    captions.append(f"ate the gold in {steps} moves" if episodes.success[0] else f"no gold in {steps} moves")
    band = 14
    images = []
    for picture, caption in zip(frames, captions):
        big = Image.fromarray(picture).resize((size * scale, size * scale), Image.Resampling.NEAREST)
        frame = Image.new("RGB", (big.width, big.height + band), "white")
        frame.paste(big, (0, 0))
        ImageDraw.Draw(frame).text((3, big.height + 1), caption, fill="black")
        images.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    gif = Path(out)
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 10]
    with atomic_output(gif, "GIF") as tmp:
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=durations, loop=0)
    return gif


def _save(fig: Any, out: Path, dpi: int = 80) -> Path:
    with atomic_output(out, "PNG") as tmp:
        fig.savefig(tmp, dpi=dpi)
    return out


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over up to `window` earlier values (shorter at the start)."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


def curves_png(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, dpi: int = 80) -> Path:
    """The training curves of an agent run per framework (`tat plot RUN`): the training loss of
    each framework's steps (`steps.csv`, each step's framework from the run's `[frameworks]`
    table, smoothed), and per validation the answers right of every question framework and the
    picture loss of every picture framework from its first step on (`metrics.jsonl`). Writes
    `RUN/curves.png` unless told otherwise."""
    from matplotlib.figure import Figure

    from ...config import Config
    from .mixing import Mixer
    from .task import frameworks_table

    run_dir = Path(run_dir)
    checkpoint = next((run_dir / c for c in ("last", "best") if (run_dir / c / "config.toml").is_file()), None)
    if checkpoint is None:
        raise FileError(f"{run_dir}: no checkpoint with a config.toml. Fix: pass an agent run folder.")
    config = Config.from_toml(checkpoint / "config.toml")
    mixer = Mixer.from_config(frameworks_table(config), int(config.training.seed))
    steps = np.loadtxt(run_dir / "steps.csv", delimiter=",", skiprows=1, ndmin=2)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    if len(steps) == 0 or not records:
        raise FileError(f"{run_dir}: no steps or epochs recorded yet. Fix: plot a run that has trained an epoch.")
    step, loss = steps[:, 0].astype(np.int64), steps[:, 2]
    names = step_frameworks(mixer, step)
    fig = Figure(figsize=(13, 11))
    train_ax, right_ax, image_ax = fig.subplots(3, 1, height_ratios=[3, 2, 2], sharex=True)
    colours = {name: f"C{i % 10}" for i, name in enumerate(sorted(set(names)))}
    styles = {name: "-" if i < 10 else "--" for i, name in enumerate(sorted(set(names)))}
    for name in sorted(set(names)):
        mine = names == name
        train_ax.plot(step[mine], _smooth(loss[mine], 20), colours[name], linestyle=styles[name], label=name, lw=1)
    train_ax.set_yscale("log")
    train_ax.set_ylabel("training loss (own steps, mean of 20)")
    train_ax.set_xlabel("step")
    train_ax.legend(fontsize=7, ncol=3)
    train_ax.set_title(f"{run_dir}: {int(step[-1])} steps, {len(records)} validations")
    at = [int(r["step"]) for r in records]
    questions = set(_question_frameworks())
    first = {name: int(step[names == name].min()) for name in set(names)}
    for key, ax in (("answers_right/", right_ax), ("image_loss/", image_ax)):
        shown = sorted({k[len(key):] for r in records for k in r.get("extra", {}) if k.startswith(key)})
        for name in shown:
            if key == "answers_right/" and name not in questions:
                continue
            values = _once_trained(at, [r.get("extra", {}).get(key + name, np.nan) for r in records], first.get(name))
            ax.plot(at, values, colours.get(name, "k"), linestyle=styles.get(name, "-"), marker=".", label=name, lw=1)
        ax.set_xlabel("step")
        ax.legend(fontsize=7, ncol=3)
    right_ax.set_ylabel("validation: answers right")
    right_ax.set_ylim(0, 1.02)
    image_ax.set_ylabel("validation: picture loss")
    image_ax.set_yscale("log")
    fig.tight_layout()
    return _save(fig, run_dir / "curves.png" if out is None else Path(out), dpi)


def step_frameworks(mixer: Any, steps: np.ndarray) -> np.ndarray:
    """The framework of each row of `steps.csv`: its `step` counts the steps done (1 for the
    first), and the mixer numbers them from 0."""
    return np.array([mixer.framework_at(int(s) - 1) for s in steps])


def _once_trained(at: list[int], values: list[float], first_step: int | None) -> list[float]:
    """A framework's validation figures, NaN (not drawn) at the validations before its first
    training step: until then they measure the untrained decoder (a framework whose target is
    its input, such as `control`, scores ~1e-16 there and stretches a log axis) or a stage that
    has not reached it."""
    return [v if first_step is not None and first_step <= a else math.nan for a, v in zip(at, values)]


def _question_frameworks() -> list[str]:
    from .frameworks import base

    return [name for name in base.names() if base.get(name).questions]


def answers_png(
    policy: Any, framework: Framework, batch: Batch, out: str | os.PathLike[str], dpi: int = 80
) -> Path:
    """Draws a policy's replies to `batch` beside the truth, one row per example: the input
    picture, the canvases, the true picture and the policy's where the framework asks for one,
    then the prompt, the true answer and the policy's (marked right or wrong)."""
    from .evaluate import normalise

    reply = policy(batch)
    canvases = batch.canvases.shape[1]
    pairs = (batch.target, reply.images) if batch.target is not None and reply.images is not None else None
    titles = ["input"] + [f"canvas {i + 1}" for i in range(canvases)] + (["truth", "model"] if pairs else [])
    pictures, texts = [], []
    for row in range(len(batch)):
        pictures.append([batch.image[row], *batch.canvases[row]] + ([pairs[0][row], pairs[1][row]] if pairs else []))
        truth, said = normalise(batch.answer[row]), normalise(reply.answers[row])
        lines = textwrap.wrap(f"prompt: {batch.prompt[row]}", 36)
        if truth or said:
            lines += [f"truth: {truth}", f"model: {said} " + ("(right)" if said == truth else "(WRONG)")]
        texts.append(lines)
    return _rows_png(framework.name, titles, pictures, texts, Path(out), dpi, 2.6)
