"""What the Python tests share: a tiny training config, the release binary, and one tiny run.

`tiny_run` trains once per session (two epochs of a 32-wide model on 40 examples, a few seconds)
for every test module that asks for it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import tiny_agent_trainer as tat

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "tiny-agent-trainer"
# `make test` builds the binary first and sets this: a missing binary is then a failure, not a skip.
REQUIRE_BINARY = os.environ.get("TAT_REQUIRE_BINARY") == "1"


def missing_binary(reason: str) -> None:
    """Skips the test (fails it under `make test`): comparing with the binary needs it built."""
    if REQUIRE_BINARY:
        pytest.fail(reason)
    pytest.skip(reason)
EXAMPLES = 40
PROMPTS = ["Create a red color", "Normalize a vector"]

TINY_CONFIG = """\
[task]
name = "tiny"

[model]
d_model = 32
nhead = 2
num_layers = 1
dim_feedforward = 64
dropout = 0.1
max_seq_len = 512

[training]
epochs = {epochs}
batch_size = 8
learning_rate = 3e-3
warmup_steps = 4
save_every = 0
seed = 42
device = "cpu"

[dataset]
path = "data.toml"
"""


def write_tiny_config(folder: Path, epochs: int = 2) -> Path:
    """A tiny model on the first examples of the shipped dataset (a second or two per epoch)."""
    text = (ROOT / "config" / "wgsl_training_data.toml").read_text()
    header = "[[examples]]"
    cut = -1
    for _ in range(EXAMPLES + 1):
        cut = text.index(header, cut + 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.toml").write_text(text[:cut])
    config = folder / "tiny.toml"
    config.write_text(TINY_CONFIG.format(epochs=epochs))
    return config


def binary(
    *args: str | os.PathLike[str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `tiny-agent-trainer ARGS`; skips the test when the binary is not built."""
    if not BIN.is_file():
        missing_binary(f"{BIN} is not built (make build)")
    command = [str(BIN), *map(str, args)]
    return subprocess.run(command, input=stdin, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tat.Run:
    folder = tmp_path_factory.mktemp("tiny")
    epochs: list[tat.EpochMetrics] = []
    run = tat.train(write_tiny_config(folder), out=folder / "run", on_epoch=epochs.append)
    assert [m.epoch for m in epochs] == [1, 2]
    return run


@pytest.fixture(scope="session")
def agent_visits(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A visits file (`tat agent visits`): the states the oracle passed through in 24 games on
    full scenes (a second), for the tests of visited_qa and of the harness over every framework."""
    from tiny_agent_trainer.tasks.agent import evaluate, visits

    path = tmp_path_factory.mktemp("visits") / "oracle.npz"
    visits.save(visits.record(evaluate.oracle, 24, 0, "full", 100, 16, "oracle"), path)
    return str(path)
