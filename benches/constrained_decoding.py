"""The cost of constrained decoding: a WGSL run answers the free-phrased requests
(`config/wgsl_free_requests.toml`) by a plain beam search and by the constrained search of the
same width (`constrain="requested"`: each request's own kind and stage), side by side in one
process, for BENCHMARKS.md.

Both searches run over the same key/value-cached decoder, one prompt at a time, with the same
number of libtorch threads and the run's precision. The constrained search also re-checks the
answer so far for each continuation it tries (`crates/tat-core/src/wgsl/prefix.rs`) and runs naga
whenever a beam would end. Reported per search: wall seconds, answer tokens (the model's
tokenizer), milliseconds per answer token, and the share of answers naga accepts as the kind asked
for (from the report `evaluate` returns). The first request is answered once before timing.

Usage::

    .venv/bin/python benches/constrained_decoding.py --run runs/wgsl_broad [--beam 4] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import tiny_agent_trainer as tat
from tiny_agent_trainer._core import Model

ROOT = Path(__file__).resolve().parent.parent


def measure(model: Model, requests: Path, beam: int, constrain: str | None) -> dict[str, float]:
    start = time.perf_counter()
    report = model.evaluate(requests=requests, beam=beam, constrain=constrain, save=False)
    seconds = time.perf_counter() - start
    results = report["results"]
    tokens = sum(len(model.token_ids(r["output"])) + 1 for r in results)  # + <eos>
    valid = 100.0 * sum(r["valid"] and r["right_kind"] for r in results) / len(results)
    return {"seconds": seconds, "tokens": tokens, "ms_per_token": 1000.0 * seconds / tokens, "valid_kind": valid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs/wgsl_broad")
    parser.add_argument("--requests", type=Path, default=ROOT / "config/wgsl_free_requests.toml")
    parser.add_argument("--beam", type=int, default=4)
    args = parser.parse_args()
    model = tat.load(args.run)
    assert isinstance(model, Model), f"{args.run} is not a WGSL generation run"
    model.generate("a fragment shader that outputs red", beam=args.beam, constrain="module")
    print(f"run {args.run}, {args.requests.name}, beam {args.beam}, precision {model.precision}, "
          f"{torch.get_num_threads()} threads, cpu capability {torch.backends.cpu.get_cpu_capability()}")
    rows = [
        ("beam search", measure(model, args.requests, args.beam, None)),
        ("constrained", measure(model, args.requests, args.beam, "requested")),
    ]
    print(f"{'search':<14} {'seconds':>8} {'tokens':>7} {'ms/token':>9} {'valid as asked':>15}")
    for name, r in rows:
        print(f"{name:<14} {r['seconds']:>8.1f} {r['tokens']:>7} {r['ms_per_token']:>9.2f} {r['valid_kind']:>14.1f}%")
    print(f"constrained / plain per token: {rows[1][1]['ms_per_token'] / rows[0][1]['ms_per_token']:.2f}x")


if __name__ == "__main__":
    main()
