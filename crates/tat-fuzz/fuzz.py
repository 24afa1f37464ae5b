#!/usr/bin/env python3
"""Builds the libFuzzer binary of crates/tat-fuzz and fuzzes every target for SECONDS each.

`make fuzz SECONDS=600` runs this. The binary is built on the stable toolchain with rustc's
sanitizer-coverage pass (no nightly, no ASan) into `$CARGO_TARGET_DIR/<host triple>/release`.
Per target, under `$CARGO_TARGET_DIR/fuzz/`:

  corpus/<target>/     the growing corpus, seeded each run from crates/tat-fuzz/seeds/<target>/,
                       crates/tat-fuzz/regressions/<target>/ and the target's `also` folders
  artifacts/<target>/  inputs that crashed, hung (-timeout) or allocated too much
  logs/<target>.log    libFuzzer's output

The counts (executions, coverage, corpus, findings) print as a table and go to
`fuzz/results.json`; the exit status is 1 when any target found something. A finding becomes a
regression test: fix it, then copy the input into crates/tat-fuzz/regressions/<target>/, which
`cargo test -p tat-fuzz` replays.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUSTFLAGS = " ".join(
    [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "--cfg fuzzing",
        "-Cdebug-assertions",
        "-Coverflow-checks",
    ]
)
# Per input: a hang is an input that takes longer than this; an allocation past the limit is a
# finding too (the engine refuses huge inputs with a message instead).
TIMEOUT_S = 10
MALLOC_LIMIT_MB = 2048
RSS_LIMIT_MB = 4096
# The longest input tried: larger seeds (the 1 MB generated WGSL dataset among the shipped
# configs) are left out, and mutants stay small enough to run hundreds of times a second.
MAX_LEN = 64 * 1024


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("host: "))


def build(target_dir: Path, triple: str) -> Path:
    env = dict(os.environ, RUSTFLAGS=RUSTFLAGS, CARGO_PROFILE_RELEASE_LTO="false")
    if "LIBTORCH_USE_PYTORCH" not in env:
        # Run outside `make`: the environment make gives every cargo call (torch from this venv).
        venv = Path(sys.executable).parent.parent
        env.update(LIBTORCH_USE_PYTORCH="1", VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    cmd = ["cargo", "build", "--release", "-p", "tat-fuzz", "--features", "libfuzzer", "--bin", "tat-fuzz"]
    cmd += ["--target", triple]
    print("building the fuzz binary:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return target_dir / triple / "release" / "tat-fuzz"


def targets(binary: Path) -> list[dict]:
    out = subprocess.run(
        [str(binary)], check=True, capture_output=True, text=True, env=dict(os.environ, TAT_FUZZ_TARGET="list")
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def seed_files(target: dict) -> list[Path]:
    roots = [ROOT / "crates/tat-fuzz/seeds" / target["name"], ROOT / "crates/tat-fuzz/regressions" / target["name"]]
    roots += [ROOT / also for also in target["also"]]
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files.extend(sorted(p for p in root.rglob("*") if p.is_file()))
    return files


def prepare_corpus(corpus: Path, seeds: list[Path]) -> None:
    """libFuzzer reads folders, not single files: seeds are copied in under their hash."""
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.iterdir():
        if old.stat().st_size > MAX_LEN:
            old.unlink()
    for seed in seeds:
        if seed.stat().st_size > MAX_LEN:
            continue
        data = seed.read_bytes()
        dest = corpus / hashlib.sha1(data).hexdigest()
        if not dest.exists():
            dest.write_bytes(data)


STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
PROGRESS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")


def summarise(name: str, log: Path, artifacts: Path, rc: int, seconds: float) -> dict:
    stats: dict[str, int] = {}
    cov = ft = corp = 0
    for line in log.read_text(errors="replace").splitlines():
        if m := STAT.match(line):
            stats[m.group(1)] = int(m.group(2))
        elif m := PROGRESS.match(line):
            cov, ft, corp = int(m.group(2)), int(m.group(3)), int(m.group(4))
    findings = sorted(str(p) for p in artifacts.iterdir()) if artifacts.is_dir() else []
    return {
        "target": name,
        "seconds": round(seconds, 1),
        "executions": stats.get("number_of_executed_units", 0),
        "execs_per_sec": stats.get("average_exec_per_sec", 0),
        "coverage": cov,
        "features": ft,
        "corpus": corp,
        "peak_rss_mb": stats.get("peak_rss_mb", 0),
        "exit": rc,
        "findings": findings,
        "log": str(log),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="targets run at once")
    parser.add_argument("--targets", nargs="*", help="only these targets (default: all)")
    args = parser.parse_args()
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")

    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")).resolve()
    binary = build(target_dir, host_triple())
    work = target_dir / "fuzz"
    chosen = targets(binary)
    if args.targets:
        unknown = set(args.targets) - {t["name"] for t in chosen}
        if unknown:
            parser.error(f"unknown targets {sorted(unknown)}; the targets are {[t['name'] for t in chosen]}")
        chosen = [t for t in chosen if t["name"] in args.targets]

    pending = list(chosen)
    running: list[tuple[dict, subprocess.Popen, float, Path, Path]] = []
    results: list[dict] = []
    print(f"fuzzing {len(chosen)} targets for {args.seconds} s each, {args.jobs} at a time", flush=True)
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                t = pending.pop(0)
                name = t["name"]
                corpus, artifacts, tmp = work / "corpus" / name, work / "artifacts" / name, work / "tmp" / name
                log = work / "logs" / f"{name}.log"
                prepare_corpus(corpus, seed_files(t))
                shutil.rmtree(artifacts, ignore_errors=True)
                shutil.rmtree(tmp, ignore_errors=True)
                for folder in (artifacts, tmp, log.parent):
                    folder.mkdir(parents=True, exist_ok=True)
                cmd = [
                    str(binary),
                    str(corpus),
                    f"-max_total_time={args.seconds}",
                    f"-timeout={TIMEOUT_S}",
                    f"-malloc_limit_mb={MALLOC_LIMIT_MB}",
                    f"-rss_limit_mb={RSS_LIMIT_MB}",
                    f"-max_len={MAX_LEN}",
                    "-print_final_stats=1",
                    f"-artifact_prefix={artifacts}/",
                ]
                env = dict(os.environ, TAT_FUZZ_TARGET=name, TMPDIR=str(tmp), OMP_NUM_THREADS="1", RUST_BACKTRACE="1")
                with open(log, "w") as out:
                    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
                running.append((t, proc, time.monotonic(), log, artifacts))
                print(f"  {name}: started ({t['reads']})", flush=True)
            time.sleep(0.5)
            for item in list(running):
                t, proc, start, log, artifacts = item
                if proc.poll() is None:
                    continue
                running.remove(item)
                shutil.rmtree(work / "tmp" / t["name"], ignore_errors=True)
                r = summarise(t["name"], log, artifacts, proc.returncode, time.monotonic() - start)
                results.append(r)
                found = f", FOUND {len(r['findings'])}" if r["findings"] or r["exit"] else ""
                print(f"  {t['name']}: {r['executions']:,} executions, coverage {r['coverage']}{found}", flush=True)
    except KeyboardInterrupt:
        for _, proc, *_ in running:
            proc.send_signal(signal.SIGINT)
        for _, proc, *_ in running:
            proc.wait()
        print("interrupted; the corpora are kept", file=sys.stderr)
        return 130

    results.sort(key=lambda r: r["target"])
    print()
    print("| target | seconds | executions | exec/s | coverage | corpus | findings |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['target']} | {r['seconds']:.0f} | {r['executions']:,} | {r['execs_per_sec']:,} | "
            f"{r['coverage']} | {r['corpus']} | {len(r['findings'])} |"
        )
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "seconds_per_target": args.seconds,
        "jobs": args.jobs,
        "results": results,
    }
    (work / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\ncounts: {work / 'results.json'}")
    bad = [r for r in results if r["findings"] or r["exit"] != 0]
    for r in bad:
        print(f"\n{r['target']}: exit {r['exit']}, log {r['log']}", file=sys.stderr)
        for f in r["findings"]:
            print(f"  reproduce: TAT_FUZZ_TARGET={r['target']} {binary} {f}", file=sys.stderr)
        print(
            f"  then fix it and copy the input into crates/tat-fuzz/regressions/{r['target']}/ "
            "(replayed by `cargo test -p tat-fuzz`).",
            file=sys.stderr,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
