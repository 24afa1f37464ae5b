"""Data-parallel training on torch.distributed: two processes under torchrun (gloo, CPU) at a
global batch B train as one process at batch B does (dropout off), and rank 0 alone writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_tiny_config

pytest.importorskip("torch.distributed")

# fp32: bf16 products of a half batch round otherwise than of the whole one.
SETS = ["--set", "model.dropout=0.0", "--set", "training.threads=1", "--set", 'training.precision="fp32"']
# The bound; the processes sum their gradients in another order than one process does,
# and the losses here differ by under 1e-6.
CLOSE = 1e-4


LAUNCH = ["-m", "torch.distributed.run", "--standalone"]


def _env() -> dict[str, str]:
    """This environment without a launcher's rank variables, one thread per process (two
    processes on two cores)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(processes: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS` on one process, or under torchrun on `processes`."""
    launcher = [] if processes == 1 else [*LAUNCH, f"--nproc-per-node={processes}"]
    return subprocess.run([sys.executable, *launcher, *args], capture_output=True, text=True, timeout=600, env=_env())


def _train(config: Path, out: Path, processes: int, *more: str) -> subprocess.CompletedProcess[str]:
    return _run(processes, "-m", "tiny_agent_trainer", "train", str(config), "--out", str(out), *SETS, *more)


def _losses(run: Path) -> list[tuple[float, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["train_loss"], r["val_loss"]) for r in rows]


def _assert_same_losses(one: Path, two: Path, epochs: int) -> None:
    single, shared = _losses(one), _losses(two)
    assert len(single) == len(shared) == epochs
    for (train1, val1), (train2, val2) in zip(single, shared):
        assert train2 == pytest.approx(train1, abs=CLOSE)
        assert val2 == pytest.approx(val1, abs=CLOSE)


def test_two_processes_train_as_one_on_the_whole_batch(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path, epochs=3)
    one = _train(config, tmp_path / "one", 1)
    assert one.returncode == 0, one.stderr
    two = _train(config, tmp_path / "two", 2)
    assert two.returncode == 0, two.stderr
    _assert_same_losses(tmp_path / "one", tmp_path / "two", 3)
    # Rank 0 alone reported: one "done" line, one metrics row per epoch.
    assert two.stdout.count("done:") == 1, two.stdout
    # The run continues exactly: one more epoch on two processes.
    more = _train(config, tmp_path / "two", 2, "--resume", "--epochs", "4")
    assert more.returncode == 0, more.stderr
    assert len(_losses(tmp_path / "two")) == 4


def test_a_task_that_makes_its_data_in_python_refuses_torchrun(tmp_path: Path) -> None:
    agent = Path(__file__).resolve().parents[2] / "config" / "agent.toml"
    env = {**os.environ, "WORLD_SIZE": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "tiny_agent_trainer", "train", str(agent), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode != 0
    assert "run it without torchrun" in done.stderr
    assert not (tmp_path / "run").exists()


BIONET_SCRIPT = """\
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, {tests!r})
import tiny_agent_trainer as tat
from test_data_seam import config, fixed, noisy

data = {{"train": noisy(np.random.default_rng(3), 1000), **fixed()}}
tat.train(config(Path(sys.argv[1]), epochs=3).with_overrides(["training.threads=1"]), data=data)
"""


def test_a_python_fed_bionet_trains_on_two_processes_as_on_one(tmp_path: Path) -> None:
    script = tmp_path / "bionet.py"
    script.write_text(BIONET_SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    for out, processes in ((tmp_path / "one", 1), (tmp_path / "two", 2)):
        done = _run(processes, str(script), str(out))
        assert done.returncode == 0, done.stderr
    _assert_same_losses(tmp_path / "one", tmp_path / "two", 3)
