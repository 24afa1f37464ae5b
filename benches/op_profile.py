"""Profiles training steps of the engine and of the same model in PyTorch eager with
torch.profiler, and prints a markdown table of the ops that take the most time per step in either.

    .venv/bin/python benches/op_profile.py --config config/wgsl_small.toml
    .venv/bin/python benches/op_profile.py --config config/wgsl_generation.toml --steps 4

The engine's steps are those of `tat.train` (the extension runs on the libtorch that torch.profiler
records, so its ops show up like PyTorch's); its `on_step` callback marks step boundaries, and only
steps after the first few are recorded, so validation and checkpoint writes are left out. The
engine trains on the epoch's shuffled batches, PyTorch on the one batch of average padded size that
`tat-bench --dump-batch` hands it (as in `benches/compare.py`), so op counts compare exactly and
times closely. Needs `make develop` and `cargo build --release -p tat-bench`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))

import torch_eager  # noqa: E402  (benches/ is not a package)
import tiny_agent_trainer as tat  # noqa: E402

SKIP = 2  # steps before recording: allocator and kernel warm-up


def parse_args():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=8, help="recorded training steps of each")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for both")
    parser.add_argument("--top", type=int, default=16, help="rows of the table")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--bin", type=Path, default=target / "release" / "tat-bench")
    return parser.parse_args()


def recorder(steps):
    return profile(
        activities=[ProfilerActivity.CPU],
        schedule=schedule(wait=0, warmup=SKIP, active=steps, repeat=1),
    )


def per_op(prof, steps):
    """{op name: (calls per step, self CPU ms per step)} of the recorded steps."""
    table = defaultdict(lambda: [0, 0.0])
    for event in prof.key_averages():
        if event.key.startswith("ProfilerStep"):
            continue
        table[event.key][0] += event.count
        table[event.key][1] += event.self_cpu_time_total / 1e3
    return {name: (calls / steps, ms / steps) for name, (calls, ms) in table.items()}


def engine_profile(config, steps):
    taken = 0

    def on_step(_progress):
        nonlocal taken
        taken += 1
        prof.step()

    with tempfile.TemporaryDirectory() as out:
        config = config.with_overrides(["training.epochs=1", f"training.output_dir={json.dumps(out + '/run')}"])
        with recorder(steps) as prof:
            tat.train(config, on_step=on_step)
    # One step more than recorded, so that the epoch's validation falls outside the recording.
    if taken <= SKIP + steps:
        sys.exit(f"error: an epoch of {config.task.name} has {taken} steps; ask for at most {taken - SKIP - 1}")
    return per_op(prof, steps)


def pytorch_profile(dump_path, steps):
    dump = json.loads(dump_path.read_text())
    m, t = dump["model"], dump["training"]
    bf16 = t["precision"] == "bf16"
    torch.manual_seed(t["seed"])
    model = torch_eager.Seq2Seq(m, dump["vocab_size"], dump["pad_id"])
    torch_eager.load_safetensors(model, dump_path.parent / dump["weights"])
    src, tgt_in, tgt_out = (torch.tensor(dump[k], dtype=torch.long) for k in ("src", "tgt_in", "tgt_out"))
    opt = torch_eager.optimizer(model, t)
    model.train()
    with recorder(steps) as prof:
        for _ in range(SKIP + steps):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(src, tgt_in)
            loss = torch_eager.sequence_loss(logits, tgt_out, model.pad_id)
            opt.zero_grad()
            loss.backward()
            if t["gradient_clip_norm"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), t["gradient_clip_norm"])
            opt.step()
            prof.step()
    return per_op(prof, steps), t["precision"]


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    config = tat.Config.from_toml(args.config).with_overrides(args.overrides)
    with tempfile.TemporaryDirectory() as work:
        dump = Path(work) / "batch.json"
        command = [str(args.bin), "--config", str(args.config), "--steps", "1", "--warmup", "0", "--gen-runs", "1"]
        command += [arg for o in args.overrides for arg in ("--set", o)]
        subprocess.run([*command, "--dump-batch", str(dump)], check=True, stdout=subprocess.DEVNULL)
        theirs, precision = pytorch_profile(dump, args.steps)
    ours = engine_profile(config, args.steps)

    names = sorted(set(ours) | set(theirs), key=lambda n: -max(ours.get(n, (0, 0))[1], theirs.get(n, (0, 0))[1]))
    total = [sum(ms for _, ms in side.values()) for side in (ours, theirs)]
    print(f"{args.config}, {precision}, {args.threads} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; per training step, mean of {args.steps} steps:\n")
    print("| op | engine calls | engine ms | PyTorch calls | PyTorch ms |")
    print("|---|---:|---:|---:|---:|")
    for name in names[: args.top]:
        (ec, ems), (tc, tms) = ours.get(name, (0, 0.0)), theirs.get(name, (0, 0.0))
        print(f"| `{name}` | {ec:,.0f} | {ems:,.1f} | {tc:,.0f} | {tms:,.1f} |")
    calls = [sum(c for c, _ in side.values()) for side in (ours, theirs)]
    print(f"| all ops | {calls[0]:,.0f} | {total[0]:,.1f} | {calls[1]:,.0f} | {total[1]:,.1f} |")


if __name__ == "__main__":
    main()
