"""Training time of a binding run, per model and seed, from each engine run's `metrics.jsonl`.

    tat train config/binding.toml        # the measured run (a quiet machine gives clean numbers)
    .venv/bin/python benches/binding_training_time.py runs/binding

Prints a Markdown table for BENCHMARKS.md: epochs, seconds of training (the sum of epoch times,
validation included; checkpoint writes and data generation not) and the slowest epoch, so an
epoch slowed by other work on the machine shows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(run_dir: Path) -> None:
    print("| model | seed | epochs | training time | slowest epoch |")
    print("|---|---|---|---|---|")
    for metrics in sorted(run_dir.glob("*/seed_*/metrics.jsonl")):
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        seconds = [row["seconds"] for row in rows]
        model, seed = metrics.parent.parent.name, metrics.parent.name.removeprefix("seed_")
        print(f"| {model} | {seed} | {len(rows)} | {sum(seconds) / 60:.1f} min | {max(seconds):.0f} s |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: binding_training_time.py RUN_DIR (e.g. runs/binding)")
    main(Path(sys.argv[1]))
