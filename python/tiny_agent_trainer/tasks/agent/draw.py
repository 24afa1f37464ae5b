"""Pictures for people: a grid of a framework's examples (`tat agent show`) and an animated GIF
of a closed-loop episode (`tat agent episode`). matplotlib and Pillow are imported here only, as
they are slow to import."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from ..._core import FileError
from .evaluate import Episodes
from .frameworks.base import Batch, Framework
from .game import MOVES
from .render import render


def examples_png(framework: Framework, batch: Batch, out: str | os.PathLike[str], dpi: int = 80) -> Path:
    """Draws `batch` to the PNG `out`, one row per example: the input picture, the canvases
    (oldest first), the target picture where there is one, then the question, prompt and answer."""
    from matplotlib.figure import Figure

    n, canvases = len(batch), batch.canvases.shape[1]
    titles = ["input"] + [f"canvas {i + 1}" for i in range(canvases)] + (["target"] if batch.target is not None else [])
    columns = len(titles)
    fig = Figure(figsize=(1.25 * columns + 3.0, 1.35 * n + 0.45))
    axes = fig.subplots(n, columns + 1, squeeze=False, gridspec_kw={"width_ratios": [1] * columns + [2.4]})
    for row in range(n):
        pictures = [batch.image[row], *batch.canvases[row]] + ([batch.target[row]] if batch.target is not None else [])
        for col, (ax, picture) in enumerate(zip(axes[row], pictures)):
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=8)
        text_ax = axes[row, -1]
        text_ax.axis("off")
        q = int(batch.question[row])
        lines = [f"[{framework.questions[q].name}]"] if q >= 0 else []
        lines += textwrap.wrap(f"prompt: {batch.prompt[row]}", 34) + textwrap.wrap(f"answer: {batch.answer[row]}", 34)
        text_ax.text(0.0, 0.5, "\n".join(lines), fontsize=7.5, va="center", ha="left", transform=text_ax.transAxes)
    fig.suptitle(f"{framework.name}", fontsize=9)
    fig.tight_layout()
    png = Path(out)
    try:
        fig.savefig(png, dpi=dpi)
    except OSError as e:
        raise FileError(f"{png}: {e.strerror}. Fix: write the PNG into an existing, writable folder.") from None
    return png


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
    try:
        images[0].save(gif, save_all=True, append_images=images[1:], duration=durations, loop=0)
    except OSError as e:
        raise FileError(f"{gif}: {e.strerror}. Fix: write the GIF into an existing, writable folder.") from None
    return gif
