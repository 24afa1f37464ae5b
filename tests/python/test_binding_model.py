"""The binding task on the engine: training both models per seed, evaluation side by side, the
inference API, heat maps, and the CLI. One tiny run (two seeds, a few seconds) serves them all;
the acceptance numbers come from `tat train config/binding.toml`, reported in docs/binding.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tiny_agent_trainer as tat
from tiny_agent_trainer import _core
from tiny_agent_trainer.cli import main
from tiny_agent_trainer.config import Config
from tiny_agent_trainer.tasks import binding, binding_model

from conftest import ROOT, binary

TINY_BINDING = """\
[task]
name = "tiny_binding"
kind = "binding"
seeds = [3, 4]

[model]
architecture = "binder"
d_model = 32
nhead = 2
num_layers = 1
dim_feedforward = 64
dropout = 0.0
max_seq_len = 96

[baseline]
architecture = "transformer"
d_model = 32
nhead = 2
num_layers = 1
dim_feedforward = 64
max_seq_len = 96

[training]
epochs = 2
batch_size = 32
learning_rate = 3e-3
warmup_steps = 4
early_stopping = false
save_every = 0
device = "cpu"

[tokenizer]
type = "words"

[dataset]
train_size = 300
eval_size = 30
"""


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    folder = tmp_path_factory.mktemp("binding")
    path = folder / "tiny_binding.toml"
    path.write_text(TINY_BINDING)
    return Config.from_toml(path).with_overrides([f'training.output_dir="{folder / "run"}"'])


@pytest.fixture(scope="module")
def binding_run(tiny_config: Config) -> Path:
    starts: list[tuple[str, int]] = []
    run_dir = binding_model.train(tiny_config, on_start=lambda model, seed, info: starts.append((model, seed)))
    assert starts == [("binder", 3), ("baseline", 3), ("binder", 4), ("baseline", 4)]
    return run_dir


def test_each_model_and_seed_is_an_engine_run_of_its_own(binding_run: Path, tiny_config: Config) -> None:
    for model in binding_model.MODELS:
        for seed in (3, 4):
            folder = binding_run / model / f"seed_{seed}"
            saved = Config.from_toml(folder / "last" / "config.toml")
            assert saved.training.seed == seed and saved.baseline is None and saved.task.seeds == []
            expected = tiny_config.model if model == "binder" else tiny_config.baseline
            assert saved.model == expected
            assert len((folder / "metrics.jsonl").read_text().splitlines()) == 2


def test_seeds_draw_their_own_programs(tiny_config: Config) -> None:
    three, four = binding_model.task_data(tiny_config, 3), binding_model.task_data(tiny_config, 4)
    assert len(three["train"]) == 300 and len(three["val"]) == 30
    assert {e.program for e in three["val"]}.isdisjoint(e.program for e in three["train"])
    assert [e.program for e in three["train"]] != [e.program for e in four["train"]]


def test_outputs_reach_the_engine_in_the_input_spelling() -> None:
    example = binding.make_splits(0, 10, 2)["seed_modification"][2]
    assert binding_model.engine_pairs([example]) == [("X means jump do X twice", "jump jump")]


def test_resume_leaves_finished_runs_alone(binding_run: Path, tiny_config: Config) -> None:
    before = {p: p.stat().st_mtime_ns for p in binding_run.glob("*/seed_*/last/model.safetensors")}
    started: list[str] = []
    binding_model.train(tiny_config, resume=True, on_start=lambda model, seed, info: started.append(model))
    assert started == [] and before == {p: p.stat().st_mtime_ns for p in before}


def test_a_new_run_refuses_to_overwrite_a_trained_one(binding_run: Path, tiny_config: Config) -> None:
    with pytest.raises(_core.UsageError, match="already holds a trained run"):
        binding_model.train(tiny_config)


@pytest.fixture(scope="module")
def report(binding_run: Path) -> binding_model.BindingReport:
    return binding_model.evaluate(binding_run, device="cpu")


def test_evaluate_scores_both_models_on_every_split(binding_run: Path, report: binding_model.BindingReport) -> None:
    assert report.seeds == [3, 4] and report.models == ["binder", "baseline"]
    assert list(report.splits) == list(binding.SPLITS[1:])
    for scores in report.splits.values():
        for model in report.models:
            assert len(scores.per_seed[model]) == 2
            assert all(0.0 <= s <= 1.0 for s in scores.per_seed[model])
    assert len(report.binding_agreement["pairings"]) == 2
    saved = json.loads((binding_run / binding_model.REPORT_NAME).read_text())
    assert saved["exact_match"]["iid"]["binder"]["per_seed"] == report.splits["iid"].per_seed["binder"]
    table = report.table()
    assert "binder" in table and "baseline" in table and "seed_modification" in table and "±" in table


def test_exact_match_is_counted_against_the_interpreter(
    binding_run: Path, report: binding_model.BindingReport
) -> None:
    for index, seed in enumerate(report.seeds):
        model = binding_model.BindingModel.load(binding_run / "baseline" / f"seed_{seed}")
        programs = binding.make_splits(seed, 330, 30)["composition"]
        predicted = model.predict([e.program for e in programs])
        hits = sum(p == e.output for p, e in zip(predicted, programs)) / len(programs)
        assert report.splits["composition"].per_seed["baseline"][index] == pytest.approx(hits)


def test_load_gives_a_binding_model_that_predicts_upper_case(binding_run: Path) -> None:
    model = tat.load(binding_run, device="cpu")
    assert isinstance(model, binding_model.BindingModel)
    assert model.path == binding_run / "binder" / "seed_3"
    outputs = model.predict(["X means jump do X", "X means walk do X twice"])
    assert len(outputs) == 2 and all(o == o.upper() for o in outputs)
    assert isinstance(tat.load(binding_run / "baseline" / "seed_4"), binding_model.BindingModel)


def test_run_returns_bindings_with_the_scores_behind_them(binding_run: Path) -> None:
    model = tat.load(binding_run, device="cpu")
    program = "X means jump Y means X do Y twice left"
    result = model.run(program)
    words = len(result["output"])
    assert result["action_logits"].shape == (words, len(model.vocabulary))
    assert result["binding_scores"].shape == (words, len(program.split()))
    assert result["bindings"].dtype == np.int64
    assert list(result["bindings"]) == list(result["binding_scores"].argmax(axis=1))
    assert " ".join(result["output"]) == model.predict([program])[0]


@pytest.mark.parametrize(
    ("program", "word"),
    [("X means jump do X gallop", "gallop"), ("X means jump do Y", "Y"), ("do X", "X")],
)
def test_programs_outside_the_language_name_the_word(binding_run: Path, program: str, word: str) -> None:
    model = tat.load(binding_run, device="cpu")
    for call in (lambda: model.predict([program]), lambda: model.run(program)):
        with pytest.raises(binding.BindingError) as e:
            call()
        assert e.value.word == word and repr(word) in str(e.value)


def test_the_baseline_has_no_bindings_to_show(binding_run: Path) -> None:
    baseline = binding_model.BindingModel.load(binding_run / "baseline" / "seed_3")
    with pytest.raises(_core.UsageError, match="no binding component"):
        baseline.run("X means jump do X")


def test_cli_eval_prints_the_side_by_side_table(binding_run: Path) -> None:
    result = CliRunner().invoke(main, ["eval", str(binding_run), "--device", "cpu"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == ["split", "binder", "baseline", "programs"]
    assert "pairings" in result.stdout and "bindings agree" in result.stdout


def test_cli_plot_binding_writes_a_heat_map(binding_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "heat.png"
    args = ["plot", str(binding_run), "--input", "X means jump Y means X do Y", "--out", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_binding_of_a_bad_program_is_a_one_line_error(binding_run: Path) -> None:
    result = CliRunner().invoke(main, ["plot", str(binding_run), "--input", "do Q"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: 'Q' at position 1:") and "Traceback" not in result.output


def test_the_binary_sends_binding_configs_to_tat() -> None:
    result = binary("train", ROOT / "config" / "binding.toml", "--out", "/nonexistent/never")
    assert result.returncode == 2
    assert "tat train CONFIG" in result.stderr and "panicked" not in result.stderr
