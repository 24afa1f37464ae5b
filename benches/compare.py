"""Runs the engine (`tat-bench`) and the same model in plain PyTorch eager (`torch_eager.py`) side by
side, each in a fresh process, on each config, and writes the comparison into BENCHMARKS.md.

    make bench                                  # both configs, CPU, every core
    .venv/bin/python benches/compare.py --configs config/wgsl_small.toml --steps 3 --warmup 1 --smoke
    .venv/bin/python benches/compare.py --isa native avx2   # also as on a CPU with AVX2 only
    python3 benches/compare.py --device cuda --compile --out BENCHMARKS_gpu.md   # on a GPU, with torch.compile and MFU

Both sides run at the precision `precision = "auto"` picks on the machine (the engine decides and
hands its choice to PyTorch), unless `--set training.precision=...` says otherwise. `--isa avx2`
runs both processes with libtorch's kernels, oneDNN and MKL (fp32 matrix products) limited to AVX2
(`ATEN_CPU_CAPABILITY=avx2`, `ONEDNN_MAX_CPU_ISA=AVX2`, `MKL_ENABLE_INSTRUCTIONS=AVX2`), which is how
a CPU without AVX-512, AVX512-BF16 or AMX runs them.

The engine runs first and hands its batch, prompt and initial weights to the PyTorch run
(`tat-bench --dump-batch`), so both time the same tokens on the same shapes. Raw JSON results and
those hand-over files go to runs/bench/.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["config/wgsl_generation.toml", "config/wgsl_small.toml"]
# Instruction-set limits for `--isa`: the environment both processes run in.
ISAS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}
# The goal: on the 44M model, 64 tokens with the KV cache at least 5x faster than without.
CACHE_GOAL = ("wgsl_generation.toml", 5.0)
# Most engine/PyTorch pairs per config (see --min-seconds).
MAX_PAIRS = 5
# A machine busier than this just before the run is flagged in the results.
BUSY_SHARE = 0.1
MARKER = "<!-- benches/compare.py rewrites everything below this line; text above it is kept. -->"
INTRO = """# Benchmarks

Training and generation speed of the engine against the same model written in plain PyTorch eager
(`benches/torch_eager.py`: the same pre-LN encoder-decoder, the engine's initial weights, the same
token batch, precision and threads), each in a fresh process on the same machine. Reproduce with
`make bench`; `.venv/bin/python benches/compare.py --help` lists the options.
"""
# (label, JSON path, True when higher is better)
ROWS = [
    ("training examples/s", "train.examples_per_s", True),
    ("training tokens/s", "train.tokens_per_s", True),
    ("generation ms / {n} tokens, KV cache", "generate.cached_ms", False),
    ("generation ms / {n} tokens, no cache", "generate.uncached_ms", False),
    ("KV-cache speedup (no cache / cache)", "generate.cache_speedup", True),
    ("batch of {rows} prompts: ms / {n} tokens each, KV cache", "generate_batch.cached_ms", False),
    ("batch of {rows} prompts: ms / {n} tokens each, no cache", "generate_batch.uncached_ms", False),
    ("batch of {rows} prompts: KV-cache speedup", "generate_batch.cache_speedup", True),
    ("peak RSS MiB", "peak_rss_mib", False),
]
# The rows a torch.compile run (training only) has.
TRAIN_ROWS = [row for row in ROWS if row[1].startswith("train.")]


def parse_args():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS, help="config files (default: both shipped)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps and generation runs first")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for both (default: all)")
    parser.add_argument(
        "--min-seconds", type=float, default=10.0,
        help=f"repeat engine/PyTorch pairs (at most {MAX_PAIRS}) until each trained this long; medians are reported",
    )
    parser.add_argument("--gen-runs", type=int, default=3, help="timed generation runs per decoding (median)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="config override for every config, e.g. --set training.precision=fp32 (repeatable)",
    )
    parser.add_argument(
        "--isa", nargs="+", default=["native"], choices=list(ISAS),
        help="run every config as the CPU is (native) and/or limited to AVX2 (avx2)",
    )
    parser.add_argument("--bin", type=Path, default=target / "release" / "tat-bench", help="the tat-bench binary")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--smoke", action="store_true", help="mark the results as a smoke run, not a measurement")
    parser.add_argument(
        "--compile", action="store_true",
        help="also time training through torch.compile of the PyTorch model (a third process per pair)",
    )
    args = parser.parse_args()
    if not args.bin.is_file():
        parser.error(f"{args.bin} does not exist. Fix: `cargo build --release -p tat-bench` (or `make bench`).")
    return args


def shown(path):
    """`path` relative to the repository when it is inside it (links kept: .venv/bin/python must stay)."""
    path = Path(os.path.abspath(path))
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_json(command, env):
    """Runs one benchmark process from the repository root with `env` added to the environment (its
    stderr shows through) and returns the JSON it prints."""
    print("$", shlex.join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, **env})
    if done.returncode != 0:
        sys.exit(f"error: the command above failed (exit {done.returncode})")
    return json.loads(done.stdout)


def bench_config(config, isa, args, work):
    """Engine then PyTorch on one config: (engine JSON, PyTorch JSON, the two commands)."""
    config = Path(os.path.abspath(config))
    dump = work / f"{config.stem}.{isa}.batch.json"
    env = ISAS[isa]
    prefix = [f"{k}={v}" for k, v in env.items()]
    common = ["--device", args.device, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    common += ["--threads", str(args.threads), "--gen-runs", str(args.gen_runs)]
    overrides = [arg for o in args.overrides for arg in ("--set", o)]
    engine_cmd = [shown(args.bin), "--config", shown(config), *overrides, *common, "--dump-batch", shown(dump)]
    torch_cmd = [shown(sys.executable), "benches/torch_eager.py", "--batch", shown(dump), *common]
    commands = {"engine": engine_cmd, "pytorch": torch_cmd}
    if args.compile:
        commands["compile"] = [*torch_cmd, "--compile", "--train-only"]
    runs = {impl: [] for impl in commands}
    # Short runs (the small model's 20 steps take about a second) swing with whatever else the
    # machine does: pairs are repeated, alternating, until each side has trained --min-seconds.
    while len(runs["engine"]) < MAX_PAIRS and (
        not runs["engine"] or min(sum(r["train"]["seconds"] for r in rs) for rs in runs.values()) < args.min_seconds
    ):
        for impl, command in commands.items():
            runs[impl].append(run_json(command, env))
    for impl, rs in runs.items():
        (work / f"{config.stem}.{isa}.{impl}.json").write_text(json.dumps(rs, indent=2) + "\n")
    engine, torch = median_run(runs["engine"]), median_run(runs["pytorch"])
    for key in ("parameters", "batch", "threads", "precision", "cpu_capability"):
        if engine[key] != torch[key]:
            sys.exit(f"error: {shown(config)}: engine and PyTorch differ in {key}: {engine[key]} vs {torch[key]}")
    if args.compile:
        torch["compiled"] = median_run(runs["compile"], TRAIN_ROWS)
    return engine, torch, [prefix + c for c in commands.values()]


def median_run(results, rows=None):
    """The first result with every timed number (of `rows`, default all) replaced by its median over `results`."""
    merged = json.loads(json.dumps(results[0]))
    merged["pairs"] = len(results)
    for _, path, _ in rows or ROWS:
        *parents, last = path.split(".")
        target = merged
        for key in parents:
            target = target[key]
        target[last] = statistics.median(field(r, path) for r in results)
    return merged


def field(result, path):
    for key in path.split("."):
        result = result[key]
    return result


def number(value):
    return f"{value:,.0f}" if value >= 1000 else f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def config_section(config, isa, overrides, engine, torch, commands, gpu=None):
    b, n = engine["batch"], engine["generate"]["new_tokens"]
    heading = shlex.join([shown(config), *(arg for o in overrides for arg in ("--set", o))])
    limited = "" if isa == "native" else ", limited to AVX2"
    pairs = engine["pairs"]
    repeated = f" Medians of {pairs} alternating engine/PyTorch runs." if pairs > 1 else ""
    where = f"{gpu['name']}" if gpu else f"CPU capability {engine['cpu_capability']}{limited}"
    lines = [
        f"### {heading} ({where})",
        "",
        f"Precision {engine['precision']}: {engine['precision_reason']}.",
        "",
        f"{engine['parameters'] / 1e6:.1f}M parameters, {engine['precision']}. Batch: {b['examples']} examples, "
        f"source {b['src_len']} x target {b['tgt_len']} tokens padded, {b['tokens']} non-pad tokens. "
        f"First training loss (same weights, different dropout masks): engine {engine['train']['first_loss']:.3f}, "
        f"PyTorch {torch['train']['first_loss']:.3f}.{repeated}",
        "",
    ]
    compiled = torch.get("compiled")
    if compiled:
        lines += [
            "| metric | engine | PyTorch eager | torch.compile | engine / PyTorch eager | engine / torch.compile |",
            "|---|---:|---:|---:|---:|---:|",
        ]
    else:
        lines += ["| metric | engine | PyTorch eager | engine / PyTorch |", "|---|---:|---:|---:|"]
    flops = torch["train"].get("flops_per_step")
    rows = list(ROWS)
    if flops and gpu:
        for impl in (engine, torch, compiled):
            if impl:
                impl["train"]["tflops"] = flops * impl["train"]["steps"] / impl["train"]["seconds"] / 1e12
                impl["train"]["mfu"] = 100 * impl["train"]["tflops"] / gpu["bf16_tflops"]
        rows[2:2] = [
            ("training TFLOP/s (FLOPs of a step by torch's FlopCounterMode)", "train.tflops", True),
            (f"training MFU, % of the measured bf16 peak ({gpu['bf16_tflops']:.0f} TFLOP/s)", "train.mfu", True),
        ]
    for label, path, higher in rows:
        e, t = field(engine, path), field(torch, path)
        arrow = "↑" if higher else "↓"
        cells = f"| {label.format(n=n, rows=b['examples'])} {arrow} | {number(e)} | {number(t)} |"
        if compiled:
            c = field(compiled, path) if path.startswith("train.") else None
            cells += f" {number(c)} |" if c else " – |"
            cells += f" {e / t:.2f} |" + (f" {e / c:.2f} |" if c else " – |")
        else:
            cells += f" {e / t:.2f} |"
        lines.append(cells)
    goal_file, goal = CACHE_GOAL
    if Path(config).name == goal_file and not gpu:
        for key, what in (("generate", "one prompt"), ("generate_batch", f"{b['examples']} prompts at once")):
            speedup = engine[key]["cache_speedup"]
            verdict = "met" if speedup >= goal else "NOT met"
            lines += ["", f"KV-cache goal (engine, >= {goal:.0f}x on this model), {what}: {speedup:.1f}x, {verdict}."]
    lines += ["", "Commands:", "", "```", *(shlex.join(c) for c in commands), "```", ""]
    return lines


def cpu_model():
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    return names[0] if names else "unknown CPU"


def busy_share(seconds=2.0):
    """The share of CPU time not idle over the next `seconds` (/proc/stat), i.e. what others use."""

    def times():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    total, idle = times()
    time.sleep(seconds)
    total2, idle2 = times()
    return 1 - (idle2 - idle) / max(total2 - total, 1)


def bf16_features():
    """The CPU's bf16 instruction sets as /proc/cpuinfo lists them (`none` when it has none)."""
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    found = [f for f in flags if f in ("avx512_bf16", "amx_bf16", "amx_tile")]
    return ", ".join(found) or "none"


def torch_version():
    command = [sys.executable, "-c", "import torch; print(torch.__version__)"]
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def git_commit():
    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" plus uncommitted changes" if git("status", "--porcelain") else "")


def gpu_facts():
    """The GPU's name and its bf16 and fp32 matrix-product rates, measured now (8192^3 products, the
    mean of 10 after 3 untimed; fp32 without TF32), in a fresh process of the benchmark's Python."""
    code = """
import json, time, torch
torch.backends.cuda.matmul.allow_tf32 = False
def rate(kind):
    a = torch.randn(8192, 8192, device="cuda", dtype=kind)
    b = torch.randn(8192, 8192, device="cuda", dtype=kind)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    return 10 * 2 * 8192**3 / (time.perf_counter() - t) / 1e12
print(json.dumps({"name": torch.cuda.get_device_name(0), "bf16_tflops": rate(torch.bfloat16), "fp32_tflops": rate(torch.float32)}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def results_section(args, runs, busy, gpu=None):
    first_engine, first_torch = runs[0][2], runs[0][3]
    devices = f"{first_engine['device']} for both"
    if first_engine["device"] != first_torch["device"]:
        devices = f"{first_engine['device']} (engine), {first_torch['device']} (PyTorch)"
    command = shlex.join([shown(sys.executable), shown(sys.argv[0]), *sys.argv[1:]])
    lines = ["", "## Results", ""]
    if args.smoke:
        lines += [
            "> **Smoke run.** Tiny step counts on a shared machine: these numbers only show that the",
            "> benchmark runs; they are not measurements.",
            "",
        ]
    if busy >= BUSY_SHARE:
        lines += [
            f"> **Busy machine.** Other processes used {busy:.0%} of the CPU just before the run; libtorch's",
            "> thread pool slows down by up to an order of magnitude when it competes for the cores.",
            "",
        ]
    lines += [
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical cores, {busy:.0%} busy in the 2 s before the run",
        f"- CPU's bf16 instruction sets (/proc/cpuinfo): {bf16_features()}; each section names libtorch's CPU "
        "capability and the precision `auto` picked",
        f"- Device: {devices}"
        + (
            f"; {gpu['name']}, matrix products measured in this run at {gpu['bf16_tflops']:.0f} TFLOP/s in bf16 and "
            f"{gpu['fp32_tflops']:.1f} in fp32 (no TF32; 8192^3, mean of 10)"
            if gpu
            else ""
        ),
        f"- torch {torch_version()} (the engine links the same libtorch); engine commit {git_commit()}",
        f"- Command: `{command}`",
        "",
        f"Training: {args.steps} timed steps after {args.warmup} untimed, each forward + loss + backward + "
        "global-norm clip + AdamW on one fixed batch of real examples (the train-split batch of average padded "
        "size). Tokens are non-pad source tokens plus non-pad target tokens (the decoder's outputs), as the "
        "trainer counts them. Both start from the engine's initial weights, and `torch_eager.py` first checks that "
        "it computes the engine's loss on the batch (it stops otherwise). Generation: one prompt, exactly "
        f"{first_engine['generate']['new_tokens']} greedy tokens (no stop at `<eos>`), the median of "
        f"{args.gen_runs} runs after {args.warmup} untimed. Peak RSS is the process's `VmHWM` at the end. "
        "↑: higher is better, ↓: lower is better; the last column is the engine's number over PyTorch's.",
        "",
    ]
    if gpu:
        lines += [
            "On the GPU both sides use a fused AdamW (PyTorch's `fused=True`). MFU counts the step's FLOPs "
            "as torch's FlopCounterMode does for the PyTorch model (the engine's model is the same function), "
            "over the bf16 rate measured above. torch.compile times training only; its first (untimed) step compiles.",
            "",
        ]
    for config, isa, engine, torch, commands in runs:
        lines += config_section(config, isa, args.overrides, engine, torch, commands, gpu)
    return "\n".join(lines)


def write(out, section):
    """Replaces what follows the marker in `out` (or writes a new file with the intro)."""
    head = out.read_text().split(MARKER)[0] if out.exists() else INTRO + "\n"
    out.write_text(f"{head}{MARKER}\n{section}")


def main():
    args = parse_args()
    work = ROOT / "runs" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    busy = busy_share()
    gpu = gpu_facts() if args.device == "cuda" else None
    runs = [(config, isa, *bench_config(config, isa, args, work)) for isa in args.isa for config in args.configs]
    write(args.out, results_section(args, runs, busy, gpu))
    print(f"wrote {shown(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
