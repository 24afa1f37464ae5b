"""Epoch time of the bionet configs: training (from the run's `metrics.jsonl`) and evaluating the
test split, with the accuracy each run reaches. For BENCHMARKS.md and docs/bionet.md.

    make build && make develop
    .venv/bin/python benches/bionet_epochs.py                       # the three shipped configs
    .venv/bin/python benches/bionet_epochs.py --configs config/bionet_prototypes.toml --seeds 0 1 2 3 4

Each run is the release binary's `train` in a fresh process (as a user runs it, without Python),
into runs/bench/bionet/<config>_seed<S>. Training seconds per epoch are the learner's (the
epoch's steps; validation, checkpoints and data loading not included). Evaluation seconds time
`predict` on the test split's inputs from Python (data already loaded; the median of three).
Prints a Markdown table per config and the mean accuracies; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

import torch

import tiny_agent_trainer as tat  # noqa: F401  (loads libtorch before the extension)
from tiny_agent_trainer import _core

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "tiny-agent-trainer"
CONFIGS = ["config/bionet_prototypes.toml", "config/bionet_fashion.toml", "config/bionet_sparse.toml"]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def train(config: str, seed: int, epochs: int | None, out: Path) -> list[dict[str, float]]:
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    command = [str(BIN), "train", config, "--seed", str(seed), "--out", str(out)]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def evaluate(run: Path) -> tuple[dict[str, float], float]:
    """Accuracy per split of the run's `last` checkpoint, and the seconds `predict` takes on the
    test inputs (median of three)."""
    model = _core.Classifier.load(run / "last", device="cpu")
    x, _labels = model.data("test")
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        model.predict(x)
        seconds.append(time.perf_counter() - started)
    scores = model.evaluate(["train", "val", "test"])
    return {split: s["accuracy"] for split, s in scores.items()}, statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    args = parser.parse_args()
    print(
        f"{cpu_name()}, {torch.get_num_threads()} threads, libtorch CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, fp32, {time.strftime('%Y-%m-%d')}\n"
    )
    for config in args.configs:
        name = Path(config).stem
        print(f"#### {config}\n")
        print("| seed | epochs | training s / epoch (median) | test predict s | train acc | val acc | test acc |")
        print("|---|---|---|---|---|---|---|")
        accuracies: dict[str, list[float]] = {"train": [], "val": [], "test": []}
        for seed in args.seeds:
            run = ROOT / "runs" / "bench" / "bionet" / f"{name}_seed{seed}"
            metrics = train(config, seed, args.epochs, run)
            scores, predict_s = evaluate(run)
            for split, value in scores.items():
                accuracies[split].append(value)
            epoch_s = statistics.median(m["seconds"] for m in metrics)
            print(
                f"| {seed} | {len(metrics)} | {epoch_s:.2f} | {predict_s:.2f} | "
                f"{scores['train']:.4f} | {scores['val']:.4f} | {scores['test']:.4f} |"
            )
        means = ", ".join(f"{split} {statistics.mean(v):.4f}" for split, v in accuracies.items())
        print(f"\nmean over {len(args.seeds)} seed(s), `last` checkpoint: {means}\n")


if __name__ == "__main__":
    main()
