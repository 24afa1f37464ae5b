"""Rendering speed of the grid-world game: scenes per second on one core, for BENCHMARKS.md.

Scenes are made first (not timed), then rendered in batches: plain bare and full scenes, full
scenes with the blue line, and 6x zooms on the agent, at 96 px (and 224 px, the original's size).
numpy's BLAS is held to one thread, and the process should be pinned to one core::

    taskset -c 0 .venv/bin/python benches/agent_render.py [--scenes 4000] [--batch 256]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from tiny_agent_trainer.tasks.agent import game, render  # noqa: E402


def rate(scenes: game.Scenes, batch: int, size: int, **options) -> float:
    """Scenes per second over the whole set, the best of three passes."""
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(scenes), batch):
            part = scenes.select(slice(i, i + batch))
            extra = {k: (v(part) if callable(v) else v) for k, v in options.items()}
            render.render(part, size, **extra)
        best = max(best, len(scenes) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenes", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    bare = game.make_scenes(args.scenes, 0, "bare")
    full = game.make_scenes(args.scenes, 1, "full")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.scenes} scenes, batches of {args.batch}, {cores} core(s) allowed, numpy {np.__version__}")
    print("| scenes | 96 px (scenes/s) | 224 px (scenes/s) |")
    print("|---|---:|---:|")
    cases = [
        ("bare", bare, {}),
        ("full", full, {}),
        ("full + blue line", full, {"line": lambda s: (s.gold_angle(), np.full(len(s), 0.3))}),
        ("full, 6x zoom on the agent", full, {"view": lambda s: render.zoom_view(s.agent, 6)}),
    ]
    for name, scenes, options in cases:
        small = rate(scenes, args.batch, 96, **options)
        large = rate(scenes, args.batch, 224, **options)
        print(f"| {name} | {small:,.0f} | {large:,.0f} |")


if __name__ == "__main__":
    main()
