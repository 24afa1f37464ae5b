"""Data-parallel training on torch.distributed: two processes under torchrun (gloo, CPU) at a
global batch B train as one process at batch B does (dropout off), and rank 0 alone writes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
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


def _launch_until_an_epoch(config: Path, run: Path) -> subprocess.Popen[str]:
    """A long two-process run in its own session (a terminal's process group), once rank 0 has
    written two epochs' metrics."""
    launch = [sys.executable, *LAUNCH, "--nproc-per-node=2", "-m", "tiny_agent_trainer", "train", str(config)]
    process = subprocess.Popen(
        [*launch, "--out", str(run), *SETS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), start_new_session=True,
    )
    waited = 0.0
    while not ((run / "metrics.jsonl").exists() and (run / "metrics.jsonl").read_text().count("\n") >= 2):
        if process.poll() is not None or waited > 300:
            process.kill()
            pytest.fail(f"the run did not reach its second epoch: {process.communicate()[1]}")
        time.sleep(0.2)
        waited += 0.2
    return process


def test_ctrl_c_stops_every_process_at_one_step_and_the_run_resumes(tmp_path: Path) -> None:
    config, run = write_tiny_config(tmp_path, epochs=1000), tmp_path / "run"
    process = _launch_until_an_epoch(config, run)
    # Ctrl-C in a terminal reaches every process of its group: torchrun, which forwards it to
    # the workers again, and both workers.
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    steps = {int(s) for s in re.findall(r"interrupted in epoch \d+ after step (\d+); saved", err)}
    assert len(steps) == 1, err
    state = json.loads((run / "last" / "state.json").read_text())
    assert state["step"] == steps.pop()
    more = _train(config, run, 2, "--resume", "--epochs", str(state["epoch"] + 1))
    assert more.returncode == 0, more.stderr
    assert len(_losses(run)) == state["epoch"] + 1


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds torchrun's workers through /proc")
def test_a_process_that_dies_stops_the_others_with_a_message(tmp_path: Path) -> None:
    config, run = write_tiny_config(tmp_path, epochs=1000), tmp_path / "run"
    process = _launch_until_an_epoch(config, run)
    workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert len(workers) == 2
    started = time.monotonic()
    os.kill(int(workers[1]), signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    # The launch ends at once (not after the collectives' 10-minute timeout), with a message:
    # the survivor's, when its collective fails before torchrun stops it, else torchrun's report
    # naming the process that died.
    assert time.monotonic() - started < 60
    survivor = re.search(r"rank \d of 2: the process group's \w+ failed", err)
    assert survivor or re.search(r"Root Cause[\s\S]*exitcode\s*: -9", err), err
    assert (run / "last" / "state.json").is_file()
