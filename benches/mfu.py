"""Where one training step's time goes, and how much of the machine's matrix-product peak it
uses (model FLOP utilisation, MFU), for each shipped config.

    .venv/bin/python benches/mfu.py                                   # every shipped config
    .venv/bin/python benches/mfu.py --config config/wgsl_generation.toml --steps 4

For each config the script trains a few steps through the same path as `tat train` (the engine's
data, or the task's Python module where Python makes the data) and stops: first without the
profiler, for the wall time of a step, then under torch.profiler, which records the ops the
extension runs since both share one libtorch. Ops are sorted into categories by their self time;
"outside ops" is the step's wall time that no op accounts for (the engine's own Rust code, Python
making the data, waiting). The matrix products' FLOPs are the profiler's count for `mm`, `addmm`,
`bmm` and `baddbmm`, plus 4·B·H·L·S·D per fused attention forward and twice that backward; MFU
divides them by the step's wall time and by the peak measured in the same run (a large square
product, best of several) for the precision the run trains in (`auto`'s choice, from the run's
state). The categories come from a recording without shapes, where the profiler's own cost per op
is smallest; it still makes a recorded step slower than a plain one, most where ops are small
and many, so read the shares, and the plain step time for MFU. Needs `make develop`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule

import tiny_agent_trainer as tat
from op_profile import SKIP, per_op  # benches/, the script's folder
from tiny_agent_trainer.tasks import registry

ROOT = Path(__file__).resolve().parent.parent

SHIPPED = [
    "wgsl_generation",
    "wgsl_small",
    "wgsl_generalise",
    "binding",
    "bionet_fashion",
    "diffusion_wikitext",
    "feedback_wikitext_to_gsm8k",
    "agent",
]
# The configs that start from another run's weights, and the config of that run: the script
# trains it for a few steps first.
STARTS_FROM = {"feedback_wikitext_to_gsm8k": "diffusion_wikitext", "attention_wikitext_to_gsm8k": "diffusion_wikitext"}

MATMUL = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}
ATTENTION_FORWARD = {"aten::_scaled_dot_product_flash_attention_for_cpu"}
ATTENTION_BACKWARD = {"aten::_scaled_dot_product_flash_attention_for_cpu_backward"}
CATEGORIES = [
    ("matrix products", lambda n: n in MATMUL or n in {"aten::matmul", "aten::linear", "aten::_addmm_activation"}),
    ("attention (softmax, fused kernels)", lambda n: "scaled_dot_product" in n or "softmax" in n and "log_softmax" not in n),
    ("norms and activations", lambda n: any(k in n for k in ("layer_norm", "rms_norm", "gelu", "relu", "silu",
                                                             "tanh", "sigmoid", "threshold_backward", "sign"))),
    ("loss", lambda n: any(k in n for k in ("log_softmax", "nll_loss", "cross_entropy", "mse_loss"))),
    ("casts and copies", lambda n: n in {"aten::_to_copy", "aten::copy_", "aten::to", "aten::clone",
                                         "aten::contiguous", "aten::_copy_from"}),
    ("optimizer and clipping", lambda n: "adam" in n or n.startswith("aten::_foreach") or "clip" in n),
    ("masks and selects (dropout, signs)",
     lambda n: n in {"aten::random_", "aten::bernoulli_", "aten::ge", "aten::where", "tat::masked_scale"}),
    ("allocation and fills", lambda n: n in {"aten::empty", "aten::empty_strided", "aten::empty_like", "aten::zeros",
                                             "aten::zeros_like", "aten::zero_", "aten::fill_", "aten::resize_",
                                             "aten::new_empty", "aten::new_zeros", "aten::ones", "aten::full"}),
]
OTHER = "other ops (elementwise, indexing, views, reductions)"
OUTSIDE = "outside ops (engine code, Python data, waiting)"


class Enough(Exception):
    """Raised from `on_step` once the wanted steps are done: the learner saves `last` and stops."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, action="append", help="a config (repeatable; default: the shipped ones)")
    parser.add_argument("--steps", type=int, default=6, help="timed and recorded training steps per config")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    return parser.parse_args()


def peak(dtype: torch.dtype, sizes: tuple[int, ...] = (512, 1024, 2048), repeats: int = 6) -> float:
    """The machine's matrix-product peak in `dtype`, GFLOP/s: the best of `repeats` n x n x n
    products (`torch.nn.functional.linear`, as the models call them) over the sizes."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        torch.nn.functional.linear(a, b)
        for _ in range(repeats):
            start = time.perf_counter()
            torch.nn.functional.linear(a, b)
            best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def train_steps(path: Path, overrides: list[str], out: Path, steps: int, on_step) -> None:
    """Trains `path` for `steps` steps into `out` through `tat train`'s path, calling `on_step`
    after each."""
    config = tat.Config.from_toml(path).with_overrides([*overrides, f"training.output_dir={json.dumps(str(out))}"])
    taken = 0

    def step(_progress) -> None:
        nonlocal taken
        taken += 1
        on_step()
        if taken >= steps:
            raise Enough

    task = registry.module_for_config(path)
    try:
        if task is not None:
            task.train(config, on_step=step)
        else:
            tat.train(config, on_step=step)
    except Enough:
        return
    raise SystemExit(f"error: {path} finished after {taken} steps; ask for fewer than {taken - SKIP}")


def step_seconds(path: Path, overrides: list[str], steps: int) -> tuple[list[float], str]:
    """The wall times of `steps` training steps, and the precision the run trained in."""
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        train_steps(path, overrides, Path(out) / "run", SKIP + steps, lambda: stamps.append(time.perf_counter()))
        # The stop saved `last`, whose state names the precision `auto` chose.
        states = sorted(Path(out).glob("**/last/state.json"))
        precision = json.loads(states[0].read_text())["precision"] if states else "fp32"
    return [b - a for a, b in zip(stamps[SKIP - 1 :], stamps[SKIP:])], precision


def attention_flops(shapes: list[list[int]]) -> float:
    """4·B·H·L·S·D for q [B, H, L, D] and k [B, H, S, D]."""
    q, k = shapes[0], shapes[1]
    return 4.0 * q[0] * q[1] * q[2] * k[2] * q[3]


def record(path: Path, overrides: list[str], steps: int, shapes: bool) -> profile:
    recorder = profile(
        activities=[ProfilerActivity.CPU],
        schedule=schedule(wait=0, warmup=SKIP, active=steps, repeat=1),
        record_shapes=shapes,
        with_flops=shapes,
    )
    with tempfile.TemporaryDirectory() as out, recorder as prof:
        # One step more than recorded: the profiler closes its window on that step's call.
        train_steps(path, overrides, Path(out) / "run", SKIP + steps + 1, prof.step)
    return prof


def op_times(path: Path, overrides: list[str], steps: int) -> tuple[float, dict[str, tuple[float, float]]]:
    """(wall ms of a recorded step, {op: (calls, self ms)} per step), recorded without shapes
    (the profiler's cost per op is then smallest)."""
    prof = record(path, overrides, steps, shapes=False)
    wall = sum(e.cpu_time_total for e in prof.key_averages() if e.key.startswith("ProfilerStep")) / 1e3 / steps
    return wall, per_op(prof, steps)


def matmul_flops(path: Path, overrides: list[str], steps: int) -> dict[str, float]:
    """{dtype: matrix-product FLOPs} per step, from a recording with shapes."""
    prof = record(path, overrides, steps, shapes=True)
    flops: dict[str, float] = defaultdict(float)
    for event in prof.profiler.kineto_results.events():
        name = event.name()
        if name in MATMUL:
            count = event.flops()
        elif name in ATTENTION_FORWARD:
            count = attention_flops(event.shapes())
        elif name in ATTENTION_BACKWARD:
            count = 2 * attention_flops(event.shapes()[1:])  # grad_out, then q, k, v
        else:
            continue
        dtype = (event.dtypes() or ["?"])[0].replace("c10::", "").replace("BFloat16", "bf16").replace("float", "fp32")
        flops[dtype] += count / steps
    return dict(flops)


def categorise(ops: dict[str, tuple[float, float]], wall_ms: float) -> dict[str, float]:
    table = {name: 0.0 for name, _ in CATEGORIES}
    table[OTHER] = 0.0
    for op, (_, ms) in ops.items():
        name = next((name for name, test in CATEGORIES if test(op)), OTHER)
        table[name] += ms
    table[OUTSIDE] = max(0.0, wall_ms - sum(table.values()))
    return table


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    paths = args.config or [ROOT / "config" / f"{name}.toml" for name in SHIPPED]
    capability = torch.backends.cpu.get_cpu_capability()
    peaks = {"fp32": peak(torch.float32), "bf16": peak(torch.bfloat16)}
    print(f"{args.threads} threads, CPU capability {capability}; measured peaks (n^3 products, n 512-2048, best of 6 each): "
          f"fp32 {peaks['fp32']:,.0f} GFLOP/s, bf16 {peaks['bf16']:,.0f} GFLOP/s\n")
    results = {"threads": args.threads, "capability": capability, "peaks_gflops": peaks, "configs": {}}
    with tempfile.TemporaryDirectory() as starts:
        for path in paths:
            overrides = [*args.overrides, f"training.threads={args.threads}"]
            base = STARTS_FROM.get(path.stem)
            if base is not None:
                # A few steps of the run it starts from give it weights to load.
                start = Path(starts) / base
                if not start.exists():
                    train_steps(path.parent / f"{base}.toml", overrides, start, 1, lambda: None)
                overrides.append(f"training.init_from={json.dumps(str(start))}")
            seconds, dtype = step_seconds(path, overrides, args.steps)
            # The mean: the steps' batches differ in length, and the FLOPs are their mean.
            wall_ms = sum(seconds) / len(seconds) * 1e3
            recorded_ms, ops = op_times(path, overrides, args.steps)
            flops = matmul_flops(path, overrides, args.steps)
            table = categorise(ops, recorded_ms)
            total = sum(flops.values())
            # Against the peak of the precision the run trains in (fp32 products in a bf16 run
            # count against the bf16 peak).
            mfu = total / (wall_ms / 1e3) / (peaks[dtype] * 1e9) if total else 0.0
            results["configs"][path.stem] = {
                "step_ms": wall_ms, "recorded_step_ms": recorded_ms, "step_ms_all": [s * 1e3 for s in seconds], "categories_ms": table,
                "matmul_gflop": {k: v / 1e9 for k, v in flops.items()}, "dtype": dtype, "mfu": mfu,
                "ops": {k: {"calls": c, "ms": ms} for k, (c, ms) in sorted(ops.items(), key=lambda kv: -kv[1][1])[:25]},
            }
            shares = ", ".join(f"{v / 1e9:,.2f} in {k}" for k, v in sorted(flops.items(), key=lambda kv: -kv[1]))
            print(f"### {path.name}: {wall_ms:,.1f} ms per step (mean of {len(seconds)}), matrix products "
                  f"{total / 1e9:,.2f} GFLOP ({shares}), {total / 1e6 / wall_ms:,.1f} GFLOP/s, "
                  f"MFU {mfu:.1%} of the {dtype} peak (the precision it trains in)\n")
            print(f"Under the profiler a step took {recorded_ms:,.1f} ms:\n")
            print("| category | ms per step | share |")
            print("|---|---:|---:|")
            for name, ms in sorted(table.items(), key=lambda kv: -kv[1]):
                print(f"| {name} | {ms:,.1f} | {ms / recorded_ms:.0%} |")
            print(flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
