"""The masked-diffusion task from Python: `tat.train`, `tat.load` (a `Completer`), `tat generate`
and `tat eval` with `--set`, on a tiny model over a slice of gsm8k."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import tiny_agent_trainer as tat
from conftest import ROOT
from tiny_agent_trainer import _core
from tiny_agent_trainer.cli import main

SHARED = ROOT.parent / "shared" / "data"


def require(name: str) -> Path:
    """A folder of the shared data; skipped when absent, except under `make test`."""
    path = SHARED / name
    if not path.exists():
        message = f"{path} is absent (see the README's Data section)"
        if os.environ.get("TAT_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def diffusion_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gsm8k = require("gsm8k")
    require("gpt2")
    root = tmp_path_factory.mktemp("diffusion")
    data = root / "gsm8k"
    data.mkdir()
    for name, n in [("train.jsonl", 64), ("test.jsonl", 16)]:
        lines = (gsm8k / name).read_text(encoding="utf-8").splitlines()[:n]
        (data / name).write_text("\n".join(lines), encoding="utf-8")
    config = tat.Config.from_toml(ROOT / "config" / "diffusion_gsm8k.toml").with_overrides(
        [
            "model.d_model=32",
            "model.nhead=2",
            "model.num_layers=1",
            "model.dim_feedforward=64",
            "training.epochs=1",
            "training.batch_size=8",
            "training.device=cpu",
            f"dataset.path={str(data)!r}".replace("'", '"'),
            f"tokenizer.path={str(SHARED / 'gpt2')!r}".replace("'", '"'),
        ]
    )
    return tat.train(config, out=root / "run").run_dir


def test_load_gives_a_completer(diffusion_run: Path) -> None:
    completer = tat.load(diffusion_run)
    assert isinstance(completer, _core.Completer)
    prompt = "Question: What is 2 + 3?\nAnswer:"
    first = completer.complete([prompt], max_new_tokens=8, steps=4)
    assert first == completer.complete([prompt], max_new_tokens=8, steps=4)
    assert "[MASK]" not in first[0]


def test_tat_generate_and_eval_with_set(diffusion_run: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["generate", "--model", str(diffusion_run), "--prompt", "Question: 1+1?\nAnswer:",
                                  "--max-new-tokens", "6", "--steps", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Question: 1+1?\nAnswer:")
    result = runner.invoke(main, ["eval", str(diffusion_run)])
    assert result.exit_code == 0, result.output
    assert "val_loss " in result.stdout and "val_loss_padded" in result.stdout
    wikitext = require("wikitext-2")
    sets = ["--set", 'dataset.source="wikitext"', "--set", f'dataset.path="{wikitext}"']
    across = runner.invoke(main, ["eval", str(diffusion_run), "--json", *sets])
    assert across.exit_code == 0, across.output
    assert '"val_loss"' in across.stdout


def test_an_experiment_file_trains_its_runs_and_tat_eval_plot_and_list_show_it(tmp_path: Path) -> None:
    gsm8k = require("gsm8k")
    require("gpt2")
    data = tmp_path / "gsm8k"
    data.mkdir()
    for name, n in [("train.jsonl", 32), ("test.jsonl", 8)]:
        lines = (gsm8k / name).read_text(encoding="utf-8").splitlines()[:n]
        (data / name).write_text("\n".join(lines), encoding="utf-8")
    ff = tat.Config.from_toml(ROOT / "config" / "diffusion_gsm8k.toml").with_overrides(
        [
            "model.d_model=32",
            "model.nhead=2",
            "model.num_layers=1",
            "model.dim_feedforward=64",
            "training.epochs=2",
            "training.steps_per_epoch=2",
            "training.batch_size=8",
            "training.device=cpu",
            f"dataset.path={str(data)!r}".replace("'", '"'),
            f"tokenizer.path={str(SHARED / 'gpt2')!r}".replace("'", '"'),
        ]
    )
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "ff.toml").write_text(ff.to_toml(), encoding="utf-8")
    experiment = configs / "exp.toml"
    experiment.write_text(
        '[experiment]\nname = "tiny"\n\n[[run]]\nname = "ff"\nconfig = "ff.toml"\n\n'
        '[[run]]\nname = "across/frozen"\nevaluate = "ff"\nconfig = "ff.toml"\n',
        encoding="utf-8",
    )
    assert _core.is_experiment(experiment) and not _core.is_experiment(configs / "ff.toml")
    out = tmp_path / "runs"
    runner = CliRunner()
    result = runner.invoke(main, ["train", str(experiment), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "[1/2] ff: training" in result.output and "[2/2] across/frozen: evaluating" in result.output
    assert "across/frozen" in result.output and "2 runs" in result.output

    record = _core.experiment_record(out)
    assert record is not None and '"status":"done"' in record.replace(" ", "")
    result = runner.invoke(main, ["eval", str(out)])
    assert result.exit_code == 0 and "val loss" in result.output and "across/frozen" in result.output, result.output
    result = runner.invoke(main, ["plot", str(out)])
    assert result.exit_code == 0 and (out / "curves.png").stat().st_size > 0, result.output
    result = runner.invoke(main, ["list", str(configs)])
    assert "tiny" in result.output and "experiment, 2 runs" in result.output, result.output

    result = runner.invoke(main, ["train", str(experiment), "--out", str(out)])
    assert result.exit_code != 0 and "--resume" in result.output, result.output
    result = runner.invoke(main, ["train", str(experiment), "--out", str(out), "--resume"])
    assert result.exit_code == 0 and "ff: finished before (done), skipped" in result.output, result.output
