"""The bionet task through the Python fronts: `tat train` and `tat eval` print what the binary
prints, `tat.load` serves the run as a `Classifier`, and the fronts find every task through the
engine's registry."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tiny_agent_trainer as tat
from conftest import ROOT, binary
from tiny_agent_trainer import _core
from tiny_agent_trainer.cli import main
from tiny_agent_trainer.tasks import registry

CONFIG = ROOT / "config" / "bionet_prototypes.toml"
SMALL = ["--set", "dataset.eval_size=200", "--epochs", "2", "--seed", "3"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def bionet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bionet") / "run"
    trained = run(sys.executable, "-m", "tiny_agent_trainer", "train", CONFIG, "--out", out, *SMALL)
    assert trained.returncode == 0, trained.stderr
    assert re.search(r"epoch   2/2  train_loss \d\.\d{4}  val_loss \d\.\d{4}  val_acc 0\.\d{4}", trained.stdout)
    assert "vocab" not in trained.stderr and "tok/s" not in trained.stdout
    return out


def test_the_binary_trains_the_same_run(bionet_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    trained = binary("train", CONFIG, "--out", out, *SMALL)
    assert trained.returncode == 0, trained.stderr
    ours = (bionet_run / "last" / "model.safetensors").read_bytes()
    assert (out / "last" / "model.safetensors").read_bytes() == ours, "one engine, one seed: the same weights"


def test_tat_eval_prints_what_the_binary_prints(bionet_run: Path) -> None:
    ours = run(sys.executable, "-m", "tiny_agent_trainer", "eval", bionet_run)
    theirs = binary("eval", bionet_run)
    assert (ours.returncode, ours.stdout) == (0, theirs.stdout), ours.stderr
    assert re.search(r"^test\s+200\s+0\.\d{4}$", ours.stdout, re.M), ours.stdout
    assert (bionet_run / "eval_bionet.json").is_file()


def test_load_gives_a_classifier_whose_predictions_make_its_accuracy(bionet_run: Path) -> None:
    model = tat.load(bionet_run)
    assert isinstance(model, _core.Classifier)
    assert model.layers == [100, 256, 10]
    scores = model.evaluate(["test"])
    assert scores["test"]["examples"] == 200 and scores["test"]["accuracy"] > 0.8
    x = np.where(np.random.default_rng(0).random((7, 100)) < 0.5, -1.0, 1.0).astype(np.float32)
    classes = model.predict(x)
    assert classes.dtype == np.int64 and classes.shape == (7,) and ((0 <= classes) & (classes < 10)).all()
    with pytest.raises(tat.UsageError, match=r"\[N, 100\]"):
        model.predict(np.zeros((2, 3), np.float32))


def test_every_shipped_config_names_a_registered_task() -> None:
    names = {spec["name"] for spec in registry.specs()}
    assert names == {"wgsl_generation", "binding", "bionet", "masked_diffusion", "agent"}
    for path in sorted((ROOT / "config").glob("*.toml")):
        if "[task]" in path.read_text(encoding="utf-8"):
            assert _core.config_task(path)["name"] in names, path
    assert registry.module_for_config(CONFIG) is None, "the engine alone trains a bionet"
    assert registry.module_for_config(ROOT / "config" / "binding.toml") is not None


def test_plot_of_one_input_is_refused_for_a_task_that_draws_none(bionet_run: Path) -> None:
    result = CliRunner().invoke(main, ["plot", str(bionet_run), "--input", "x"])
    assert result.exit_code == 2 and "draws no single input" in result.output, result.output


def test_the_fronts_do_not_branch_on_task_names() -> None:
    """Fronts look tasks up in the registry; a task's name in a front's code is a branch on it."""
    fronts = [ROOT / "python/tiny_agent_trainer/cli.py", ROOT / "python/tiny_agent_trainer/api.py"]
    fronts += sorted((ROOT / "crates/tat-cli/src").glob("*.rs"))
    for path in fronts:
        lines = path.read_text(encoding="utf-8").splitlines()
        code = "\n".join(line for line in lines if not line.strip().startswith(("#", "//")))
        for name in ('"wgsl_generation"', '"binding"', '"bionet"', "TaskKind::", '"--binding"', "plot_binding"):
            assert name not in code, f"{path.name} names {name}"
