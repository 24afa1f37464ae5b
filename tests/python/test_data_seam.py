"""Task data from Python as numpy arrays: all at once, or a fresh training set per epoch from a
callable; both exactly resumable, and bad arrays named with the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tiny_agent_trainer as tat
from conftest import ROOT

DIM, CLASSES = 100, 10
PROTOTYPES = np.where(np.random.default_rng(1).random((CLASSES, DIM)) < 0.5, -1.0, 1.0).astype(np.float32)


def noisy(rng: np.random.Generator, n: int) -> dict[str, Any]:
    """`n` copies of the prototypes, each bit flipped with probability 0.3."""
    labels = rng.integers(0, CLASSES, n)
    flips = np.where(rng.random((n, DIM)) < 0.3, -1.0, 1.0).astype(np.float32)
    return {"x": PROTOTYPES[labels] * flips, "labels": labels.astype(np.int64)}


def config(out: Path, epochs: int = 2) -> tat.Config:
    base = tat.Config.from_toml(ROOT / "config" / "bionet_prototypes.toml")
    return base.with_overrides(
        [
            'dataset.source="python"',
            "dataset.classes=10",
            f"training.epochs={epochs}",
            'training.device="cpu"',
            f"training.output_dir={str(out)!r}".replace("'", '"'),
        ]
    )


def fixed() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    return {"val": noisy(rng, 200), "test": noisy(rng, 200)}


def fresh(seed: int, epoch: int) -> dict[str, Any]:
    """A new training set every epoch, a pure function of (seed, epoch)."""
    return noisy(np.random.default_rng([seed, epoch]), 800)


def test_arrays_all_at_once_train_a_bionet(tmp_path: Path) -> None:
    data = {"train": noisy(np.random.default_rng(3), 1000), **fixed()}
    run = tat.train(config(tmp_path / "run"), data=data)
    assert run.metrics["val_accuracy"][-1] > 0.85
    model = tat.load(run.run_dir)
    assert isinstance(model, tat._core.Classifier)
    accuracy = (model.predict(data["test"]["x"]) == data["test"]["labels"]).mean()
    assert accuracy > 0.85


def test_a_stream_gives_fresh_data_every_epoch_and_resumes_exactly(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []

    def train_set(seed: int, epoch: int) -> dict[str, Any]:
        calls.append((seed, epoch))
        return fresh(seed, epoch)

    straight = tat.train(config(tmp_path / "straight", epochs=3), data={"train": train_set, **fixed()})
    assert [epoch for _, epoch in calls] == [0, 1, 2]
    assert straight.metrics["val_accuracy"][-1] > 0.85

    steps = 0

    def stop_in_epoch_two(progress: tat.StepProgress) -> None:
        nonlocal steps
        steps += 1
        if steps == 70:  # 50 steps per epoch: inside the second
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        tat.train(config(tmp_path / "resumed", epochs=3), data={"train": fresh, **fixed()}, on_step=stop_in_epoch_two)
    tat.train(config(tmp_path / "resumed", epochs=3), data={"train": fresh, **fixed()}, resume=True)
    a = (tmp_path / "straight" / "last" / "model.safetensors").read_bytes()
    b = (tmp_path / "resumed" / "last" / "model.safetensors").read_bytes()
    assert a == b, "the resumed run saw the same data and made the same updates"


def test_ctrl_c_in_the_data_call_saves_last_and_resumes_exactly(tmp_path: Path) -> None:
    """Python's SIGINT handler raises KeyboardInterrupt in whatever Python code runs: often the
    data call, not the learner's check between steps. The run saves `last` all the same."""

    def interrupted_in_epoch_two(seed: int, epoch: int) -> dict[str, Any]:
        if epoch == 1:
            raise KeyboardInterrupt
        return fresh(seed, epoch)

    with pytest.raises(KeyboardInterrupt, match="saved .*--resume"):
        tat.train(config(tmp_path / "resumed"), data={"train": interrupted_in_epoch_two, **fixed()})
    state = json.loads((tmp_path / "resumed" / "last" / "state.json").read_text())
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 0)
    tat.train(config(tmp_path / "resumed"), data={"train": fresh, **fixed()}, resume=True)
    tat.train(config(tmp_path / "straight"), data={"train": fresh, **fixed()})
    a = (tmp_path / "straight" / "last" / "model.safetensors").read_bytes()
    b = (tmp_path / "resumed" / "last" / "model.safetensors").read_bytes()
    assert a == b


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": {"x": np.zeros((4, 100), np.float32)}}, "not `x` and `labels`"),
        ({"train": {"x": np.zeros((4, 7), np.float32), "labels": np.zeros(4, np.int64)}}, "expected [N, 100]"),
        ({"train": {"x": np.zeros((4, 100), np.float32), "labels": np.full(4, 12)}}, "outside 0..10"),
        ({"train": {"x": [[1.0] * 100], "labels": np.zeros(1, np.int64)}}, "not a numpy array"),
        ({"validation": {}}, 'split named "validation"'),
    ],
)
def test_bad_arrays_are_named_with_the_fix(tmp_path: Path, data: dict[str, Any], message: str) -> None:
    full = {**fixed(), **data} if "train" in data else data
    with pytest.raises(tat.UsageError) as caught:
        tat.train(config(tmp_path / "run"), data=full)
    assert message in str(caught.value) and ("Fix:" in str(caught.value)), str(caught.value)


def test_the_binary_says_where_python_data_comes_from(tmp_path: Path) -> None:
    text = config(tmp_path / "run").to_toml()
    path = tmp_path / "python_data.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(tat.UsageError, match=r"tat\.train\(config, data=\.\.\.\)"):
        tat.train(path)
