"""The config corpus in tests/configs, through the pydantic models and, where it is built, the
engine's `tiny-agent-trainer show`: both sides must accept and reject the same files, load good
files to the same values, and word their errors alike.

`crates/tat-core/tests/config_corpus.rs` holds the Rust side to the same files.
"""

import json
import subprocess
from pathlib import Path

import pytest
import tomli

from conftest import BIN, missing_binary
from tiny_agent_trainer.config import (
    MODELS_FILE,
    BinderConfig,
    BionetConfig,
    Config,
    ConfigError,
    TransformerConfig,
    _choices,
    json_schema,
    main,
    render_models,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "configs"
GOOD = sorted((CORPUS / "good").glob("*.toml"))
BAD = sorted((CORPUS / "bad").glob("*.toml"))

SMALL = """
[task]
name = "t"

[model]
d_model = 32
nhead = 4

[training]
epochs = 3

[dataset]
path = "data.toml"
"""


def expected_field(path: Path) -> str:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith("# expect: "), f"{path}: the first line must be `# expect: <field path>`"
    return first.removeprefix("# expect: ").strip()


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        Config.from_toml(str(path))
    return caught.value


@pytest.fixture(scope="session")
def engine() -> Path:
    """The release binary, when it is built from the current config sources."""
    binary = BIN
    if not binary.exists():
        missing_binary(f"{binary} is missing: run `make build` to compare with the engine")
    sources = [*(ROOT / "crates/tat-core/src/config").glob("*.rs"), *(ROOT / "crates/tat-cli/src").glob("*.rs")]
    if binary.stat().st_mtime < max(source.stat().st_mtime for source in sources):
        missing_binary(f"{binary} is older than the config sources: run `make build` to compare with the engine")
    return binary


def show(engine: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(engine), "show", "--config", str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_corpus_has_enough_files():
    assert len(GOOD) >= 8 and len(BAD) >= 20, (len(GOOD), len(BAD))


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_config_loads_and_round_trips(path):
    config = Config.from_toml(path)
    assert Config.from_toml_str(config.to_toml(), "shown").to_dict() == config.to_dict()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_config_fails_naming_the_field_and_a_fix(path):
    expect = expected_field(path)
    error = load_error(path)
    message = str(error)
    assert ("TOML" if expect == "toml" else f"`{expect}`") in message, message
    assert "Fix:" in message, message
    assert message.startswith(f"{path}:"), message
    assert error.field == (None if expect == "toml" else expect), message


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_config_loads_to_what_the_engine_shows(engine, path):
    shown = show(engine, path)
    assert shown.returncode == 0, shown.stderr
    assert tomli.loads(shown.stdout) == Config.from_toml(path).to_dict()


@pytest.mark.parametrize("name", ["every_field", "toml_forms", "whole_numbers_as_floats"])
def test_the_engine_reads_what_to_toml_writes(engine, tmp_path, name):
    config = Config.from_toml(CORPUS / "good" / f"{name}.toml")
    written = tmp_path / f"{name}.toml"
    written.write_text(config.to_toml(), encoding="utf-8")
    shown = show(engine, written)
    assert shown.returncode == 0, shown.stderr
    assert tomli.loads(shown.stdout) == config.to_dict()


@pytest.mark.slow  # one engine start per file (about a second each, as it loads libtorch)
@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_config_is_rejected_by_the_engine_in_the_same_words(engine, path):
    shown = show(engine, path)
    assert shown.returncode == 2, shown.stdout
    rust = shown.stderr.strip().removeprefix("error: ")
    python = str(load_error(path))
    if "not valid TOML" in rust:
        # The two TOML parsers word syntax errors their own way, but agree on the line.
        assert "not valid TOML" in python and python.split(":")[:2] == rust.split(":")[:2], (python, rust)
    else:
        assert python == rust


def small_error(old: str, new: str) -> str:
    with pytest.raises(ConfigError) as caught:
        Config.from_toml_str(SMALL.replace(old, new), "cfg.toml")
    return str(caught.value)


def test_errors_give_line_column_found_expected_and_fix():
    assert small_error("nhead = 4", "nhead = 5") == (
        "cfg.toml:7:1: field `model.nhead`: found 5, expected a positive divisor of model.d_model (32). "
        "Fix: set `model.nhead` to a positive divisor of model.d_model (32)."
    )
    e = small_error("nhead = 4", 'nhead = "4"')
    assert e.startswith('cfg.toml:7:9: field `model.nhead`: invalid type: string "4", expected a whole number.'), e


def test_unknown_keys_suggest_the_closest_one():
    e = small_error("epochs = 3", "epochs = 3\nlerning_rate = 0.1")
    assert e.startswith("cfg.toml:11:1: unknown field `training.lerning_rate`; expected one of `epochs`,"), e
    assert "Did you mean `learning_rate`?" in e


def test_found_numbers_are_written_as_the_engine_writes_them():
    e = small_error("epochs = 3", "epochs = 3\nadam_eps = -1e-9")
    assert "found -0.000000001, expected a small positive number such as 1e-9" in e, e


def test_a_missing_file_says_so():
    with pytest.raises(ConfigError, match=r"^no/such/config\.toml: config file not found\. Fix:"):
        Config.from_toml("no/such/config.toml")


def test_defaults_match_the_engine():
    c = Config.from_toml_str(SMALL)
    assert (c.model.num_layers, c.model.dropout, c.training.batch_size, c.training.device) == (6, 0.1, 16, "auto")
    assert (c.tokenizer.kind, c.dataset.train_ratio, c.training.output_dir) == ("wgsl", 0.8, None)
    assert "output_dir" not in c.to_dict()["training"]
    assert c.output_dir() == Path("runs/t")


BINDING = """
[task]
name = "b"
kind = "binding"

[dataset]
"""


def binding_error(old: str, new: str) -> str:
    with pytest.raises(ConfigError) as caught:
        Config.from_toml_str(BINDING.replace(old, new), "cfg.toml")
    return str(caught.value)


def test_binding_defaults_match_the_engine():
    c = Config.from_toml_str(BINDING)
    assert (c.task.kind, c.task.seeds, c.baseline) == ("binding", [], None)
    assert isinstance(c.model, TransformerConfig) and c.model.architecture == "transformer"
    assert (c.dataset.path, c.dataset.train_size, c.dataset.eval_size) == (None, 20000, 1000)
    shown = c.to_dict()
    assert "seeds" not in shown["task"] and "baseline" not in shown and "path" not in shown["dataset"]
    assert "seeds" not in c.to_toml() and "[baseline]" not in c.to_toml()
    assert c.dataset_path() == Path()
    seeded = c.with_overrides(["task.seeds=[2, 0]", "baseline.d_model=64"])
    assert seeded.task.seeds == [2, 0] and seeded.to_dict()["task"]["seeds"] == [2, 0]
    assert seeded.baseline is not None and seeded.baseline.d_model == 64 and seeded.baseline.nhead == 8
    assert Config.from_toml_str(seeded.to_toml()) == seeded


def test_the_dataset_path_depends_on_the_task_kind():
    e = binding_error("[dataset]", '[dataset]\npath = "data.toml"\ntrain_size = 0')
    assert e == (
        'cfg.toml:7:1: field `dataset.path`: found "data.toml", expected no path: this task generates its data '
        "(set dataset.train_size and dataset.eval_size). Fix: set `dataset.path` to no path: this task generates "
        "its data (set dataset.train_size and dataset.eval_size)."
    ), "the path is checked before the sizes, as in the engine"
    e = binding_error('kind = "binding"', 'kind = "wgsl_generation"')
    assert e.startswith("cfg.toml: field `dataset.path`: found nothing, expected a [[examples]] TOML file"), e
    assert binding_error("[dataset]", '[dataset]\npath = "a\\tb"').startswith(
        'cfg.toml:7:1: field `dataset.path`: found "a\\tb", expected no path'
    )


def test_list_elements_are_named_and_located_as_the_engine_does():
    e = binding_error('kind = "binding"', 'kind = "binding"\nseeds = [0, -1]')
    assert e == (
        "cfg.toml:5:13: field `task.seeds[1]`: invalid value: integer `-1`, expected a whole number >= 0. "
        "Fix: give `task.seeds[1]` a value of the expected type."
    ), e
    e = binding_error('kind = "binding"', 'kind = "binding"\nseeds = [\n  "0", # zero\n  1.5,\n]')
    assert e.startswith("cfg.toml:6:3: field `task.seeds[0]`: invalid type: string \"0\", expected a whole"), e
    e = binding_error('kind = "binding"', 'kind = "binding"\nseeds = [0, 1.5]')
    assert e.startswith("cfg.toml:5:13: field `task.seeds[1]`: invalid type: floating point `1.5`"), e


def test_baseline_is_checked_as_the_engine_checks_it(engine, tmp_path):
    path = tmp_path / "baseline.toml"
    path.write_text(BINDING + "\n[baseline]\narchitecture = \"binder\"\nd_model = 0\nword_dropout = 1.0\n", encoding="utf-8")
    shown = show(engine, path)
    with pytest.raises(ConfigError) as e:
        Config.from_toml(path)
    assert e.value.field == "baseline.d_model"
    assert shown.returncode == 2 and str(e.value) == shown.stderr.strip().removeprefix("error: ")


def test_strings_survive_to_toml():
    description = r'"tab\t, quote \", back\\slash, \u0001, \u007F, é\nnext"'
    c = Config.from_toml_str(SMALL.replace('name = "t"', f'name = "t"\ndescription = {description}'))
    assert c.task.description == 'tab\t, quote ", back\\slash, \x01, \x7f, é\nnext'
    assert Config.from_toml_str(c.to_toml()) == c


def test_dataset_path_resolves_against_the_config_folder():
    c = Config.from_toml(CORPUS / "good" / "minimal.toml")
    assert c.source == CORPUS / "good" / "minimal.toml"
    assert c.dataset_path() == CORPUS / "good" / "data.toml"
    assert Config.from_toml_str(SMALL).dataset_path() == Path("data.toml")
    assert Config.from_toml(CORPUS / "good" / "output_dir.toml").dataset_path() == Path("/absolute/path/to/data.toml")


def test_overrides_set_values_and_are_checked():
    c = Config.from_toml_str(SMALL, "cfg.toml")
    o = c.with_overrides(
        ["training.learning_rate=3e-4", "task.name=renamed", "training.early_stopping=false", "training.device=cuda"]
    )
    assert (o.training.learning_rate, o.task.name, o.training.early_stopping) == (3e-4, "renamed", False)
    assert o.training.device == "cuda"
    assert o.model == c.model and c.task.name == "t"
    assert c.with_overrides([]) == c
    assert c.with_overrides(["training.output_dir=runs/elsewhere"]).output_dir() == Path("runs/elsewhere")

    def error(override: str) -> str:
        with pytest.raises(ConfigError) as caught:
            c.with_overrides([override])
        return str(caught.value)

    e = error("training.lerning_rate=1")
    assert "training.lerning_rate" in e and "Did you mean `learning_rate`?" in e, e
    e = error("model.nhead=5")
    assert "`model.nhead`: found 5" in e and "Fix:" in e, e
    assert "invalid type: string \"ten\"" in error("training.epochs=ten")
    assert "SECTION.KEY=VALUE" in error("epochs")
    assert "is not SECTION.KEY" in error("epochs=3")
    e = error("task.name.first=x")
    assert "`name` is a value, not a section" in e and "Fix:" in e, e


def test_json_schema_describes_the_file():
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "tiny-agent-trainer config"
    assert set(schema["properties"]) == {"task", "model", "training", "tokenizer", "dataset", "baseline", "frameworks"}
    assert sorted(schema["required"]) == ["dataset", "task"]
    sections = schema["$defs"]
    objects = [section for section in sections.values() if section.get("type") == "object"]
    assert objects and all(section["additionalProperties"] is False for section in objects)
    assert set(sections["TokenizerConfig"]["properties"]) == {"type", "min_freq", "path", "also_learn"}
    assert set(_choices(sections["DeviceChoice"])) == {"auto", "cpu", "cuda"}
    assert sections["TrainingConfig"]["properties"]["epochs"]["minimum"] == 0
    variants = sections["ModelConfig"]["oneOf"]
    assert [v["properties"]["architecture"]["const"] for v in variants] == [
        "transformer",
        "binder",
        "bionet",
        "diffusion_lm",
        "feedback",
        "agent",
    ]
    assert all(v["additionalProperties"] is False for v in variants)
    assert "window" in variants[1]["properties"] and "window" not in variants[0]["properties"]
    assert set(_choices(sections["TaskKind"])) == {"wgsl_generation", "binding", "bionet", "masked_diffusion", "agent"}
    assert set(_choices(sections["TokenizerKind"])) == {"wgsl", "words", "bpe"}
    assert "path" not in sections["DatasetConfig"].get("required", [])


def test_json_schema_defaults_are_the_config_defaults():
    defaults = Config.from_toml(CORPUS / "good" / "minimal.toml").to_dict()
    sections = json_schema()["$defs"]
    transformer = sections["ModelConfig"]["oneOf"][0]
    for name, section in [("model", transformer), ("training", sections["TrainingConfig"]), ("tokenizer", sections["TokenizerConfig"])]:
        properties = section["properties"].items()
        documented = {key: p["default"] for key, p in properties if p.get("default") is not None}
        assert documented.items() <= defaults[name].items(), name


def test_main_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    assert main([]) == 2


def test_the_generated_models_match_the_engine_schema():
    """`_config_models.py` is generated from the engine's schema; regenerate it after changing the
    engine's config types: `python -m tiny_agent_trainer.config generate`."""
    assert render_models(json_schema()) == MODELS_FILE.read_text(encoding="utf-8"), (
        "python/tiny_agent_trainer/_config_models.py is stale. Fix: run `python -m tiny_agent_trainer.config generate`."
    )


def test_every_section_of_the_engine_schema_has_a_model():
    schema = json_schema()
    assert schema["title"] == "tiny-agent-trainer config"
    fields = set(Config.model_fields)
    assert fields == set(schema["properties"]), (fields, set(schema["properties"]))
    bionet = Config.from_toml(ROOT / "config" / "bionet_sparse.toml")
    assert bionet.model.recurrent is not None and bionet.model.recurrent.sparsity == 0.99
    assert bionet.dataset.source == "idx" and bionet.training.optimizer == "sgd"


def test_model_sections_are_tagged_by_architecture():
    """Each architecture has only its own keys, on both sides; a section without `architecture`
    is a transformer."""
    binder = Config.from_dict({"task": {"name": "b", "kind": "binding"}, "dataset": {},
                               "model": {"architecture": "binder", "window": 2}})
    assert isinstance(binder.model, BinderConfig) and (binder.model.window, binder.model.slots) == (2, 8)
    assert binder.to_dict()["model"]["architecture"] == "binder"
    plain = Config.from_dict({"task": {"name": "t"}, "dataset": {"path": "d.toml"}, "model": {"d_model": 64}})
    assert isinstance(plain.model, TransformerConfig) and plain.model.d_model == 64
    with pytest.raises(ConfigError) as caught:
        Config.from_dict({"task": {"name": "t"}, "dataset": {"path": "d.toml"}, "model": {"window": 2}})
    assert caught.value.field == "model.window" and 'architecture = "binder"' in str(caught.value)
    bionet = Config.from_toml(ROOT / "config" / "bionet_prototypes.toml")
    assert isinstance(bionet.model, BionetConfig) and bionet.model.layers == [100, 256, 10]
    # The pydantic models refuse the same misplaced key.
    with pytest.raises(ValueError):
        TransformerConfig.model_validate({"window": 2})
    switched = plain.with_overrides(["model.architecture=binder", "model.slots=3"])
    assert isinstance(switched.model, BinderConfig) and switched.model.slots == 3
