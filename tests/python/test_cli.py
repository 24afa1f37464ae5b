"""The `tat` command against the release binary: the same flags and defaults, the same output and
exit codes on the same inputs; and what only `tat` has (`plot`, `schema`, `agent`).

In-process runs use click's CliRunner; a run whose process matters (exit status, Ctrl-C, a
traceback, libtorch's thread count) starts `python -m tiny_agent_trainer`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import tiny_agent_trainer as tat
from conftest import PROMPTS, ROOT, binary, write_tiny_config
from tiny_agent_trainer.cli import main
from tiny_agent_trainer.config import json_schema

SHARED = ["train", "generate", "eval", "validate", "init", "list", "show", "check"]

GOOD_MODULE = "@fragment\nfn main() -> @location(0) vec4<f32> {\n    return vec4<f32>(1.0, 0.0, 0.0, 1.0);\n}\n"
BAD_MODULE = "@fragment\nfn main() -> @location(0) vec4<f32> {\n    return vec3<f32>(1.0, 0.0, 0.0);\n}\n"


def tat_cli(*args: str | os.PathLike[str], stdin: str | None = None) -> Result:
    """`tat ARGS` in this process."""
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=False)


def tat_process(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m tiny_agent_trainer ARGS` in a process of its own."""
    command = [sys.executable, "-m", "tiny_agent_trainer", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


def assert_same(ours: Result | subprocess.CompletedProcess[str], theirs: subprocess.CompletedProcess[str]) -> None:
    code = ours.exit_code if isinstance(ours, Result) else ours.returncode
    assert (code, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)


# --- commands and flags -----------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = tat_cli("--help")
    assert result.exit_code == 0
    listed = set(re.findall(r"^  (\w+)", result.stdout.split("Commands:")[1], re.M))
    assert listed == {*SHARED, "plot", "schema", "agent"}


def test_version_names_the_package() -> None:
    assert tat_cli("--version").stdout == f"tat {tat.__version__}\n"


_OPTION = re.compile(r"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)")
_DEFAULT = re.compile(r"\[default: ([^\]]*)\]")


def option_blocks(help_text: str) -> dict[str, str]:
    """Each long option of a help text with its description (continuation lines joined)."""
    blocks: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        match = _OPTION.match(line)
        if match:
            current = match.group(1)
            blocks[current] = line
        elif current and line.startswith(" "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    blocks.pop("help", None)
    return blocks


def positionals(help_text: str, command: str) -> list[str]:
    """The positional arguments of the usage line, without brackets (`[DIR]`, `<FILES>...` -> DIR, FILES)."""
    usage = next(line for line in help_text.splitlines() if line.startswith("Usage:"))
    words = usage.split(f" {command}", 1)[1].split()
    names, after_option = [], False
    for word in words:
        if after_option or word == "[OPTIONS]":
            after_option = False
        elif word.startswith("--"):
            after_option = True  # a required option's value, e.g. `--model <MODEL>`
        else:
            names.append(word.strip("[]<>."))
    return names


@pytest.mark.parametrize("command", SHARED)
def test_flags_and_defaults_match_the_binary(command: str) -> None:
    theirs = binary(command, "--help")
    assert theirs.returncode == 0, theirs.stderr
    ours = tat_cli(command, "--help")
    assert ours.exit_code == 0, ours.output
    their_options = option_blocks(theirs.stdout)
    assert set(option_blocks(ours.stdout)) == set(their_options)
    assert positionals(ours.stdout, command) == positionals(theirs.stdout, command)

    # Defaults: of options as both helps show them, of arguments against the click parameters.
    assert defaults_of(option_blocks(ours.stdout)) == defaults_of(their_options)
    group = main
    assert isinstance(group, click.Group)
    tat_command = group.commands[command]
    context = click.Context(tat_command)
    ours_arguments = {
        str(p.name): str(p.get_default(context))
        for p in tat_command.params
        if isinstance(p, click.Argument) and not p.required and p.get_default(context) is not None
    }
    their_arguments = re.findall(r"^\s+\[(\w+)\]\s+\[default: ([^\]]*)\]", theirs.stdout, re.M)
    assert ours_arguments == {name.lower(): default for name, default in their_arguments}


def defaults_of(options: dict[str, str]) -> dict[str, float | str]:
    """The `[default: X]` of each option that shows one, numbers as numbers (clap writes 1.0 as 1)."""
    found = {flag: match.group(1) for flag, text in options.items() if (match := _DEFAULT.search(text))}
    return {flag: _number_or_text(value) for flag, value in found.items()}


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


# --- generate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [[], ["--temperature", "1.5", "--top-p", "0.95", "--seed", "4"], ["--beam", "3"], ["--validate"]],
    ids=["greedy", "sampled", "beam", "validate"],
)
def test_generate_prints_what_the_binary_prints(tiny_run: tat.Run, flags: list[str]) -> None:
    prompts = [arg for p in PROMPTS for arg in ("--prompt", p)]
    args = ["generate", "--model", tiny_run.run_dir, *prompts, "--max-new-tokens", "30", "--device", "cpu", *flags]
    theirs = binary(*args)
    assert theirs.returncode in (0, 1), theirs.stderr
    assert_same(tat_cli(*args), theirs)


@pytest.mark.parametrize(
    "args",
    [["--model", "no/such/run", "--prompt", "x"], ["--prompt", "x", "--top-k", "5"]],
    ids=["missing-model", "top-k-without-temperature"],
)
def test_generate_errors_exit_like_the_binary(tiny_run: tat.Run, args: list[str]) -> None:
    if "--model" not in args:
        args = ["--model", str(tiny_run.run_dir), *args]
    theirs = binary("generate", *args)
    ours = tat_cli("generate", *args)
    assert ours.exit_code == theirs.returncode in (2, 3)
    assert ours.stderr.startswith("error: ")
    if theirs.returncode == 3:
        assert ours.stderr == theirs.stderr


# --- eval -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [[], ["--json"], ["--show-misses"]], ids=["table", "json", "misses"])
def test_eval_prints_what_the_binary_prints(tiny_run: tat.Run, flags: list[str]) -> None:
    args = ["eval", "--model", tiny_run.run_dir, "--split", "val", "--max-new-tokens", "20", "--device", "cpu", *flags]
    theirs = binary(*args)
    assert theirs.returncode == 0, theirs.stderr
    assert_same(tat_cli(*args), theirs)
    assert (tiny_run.run_dir / "eval_best_val.json").is_file()


@pytest.mark.parametrize("flags", [[], ["--json"], ["--show-misses"]], ids=["table", "json", "misses"])
def test_eval_of_free_requests_prints_what_the_binary_prints(tiny_run: tat.Run, flags: list[str]) -> None:
    requests = ROOT / "config" / "wgsl_free_requests.toml"
    args = ["eval", tiny_run.run_dir, "--requests", requests, "--max-new-tokens", "20", "--device", "cpu", *flags]
    theirs = binary(*args)
    assert theirs.returncode == 0, theirs.stderr
    assert_same(tat_cli(*args), theirs)
    report = json.loads((tiny_run.run_dir / "eval_best_wgsl_free_requests.json").read_text())
    assert report["overall"]["requests"] == len(report["results"]) >= 150
    assert set(report["per_kind"]) == {"expression", "statement", "function", "module"}
    # A two-epoch model gets few right; whatever it writes, each verdict is whole.
    assert all(r["right"] == (r["why"] is None) for r in report["results"])


def test_constrained_eval_of_free_requests_prints_what_the_binary_prints(tiny_run: tat.Run) -> None:
    requests = ROOT / "config" / "wgsl_free_requests.toml"
    args = ["eval", tiny_run.run_dir, "--requests", requests, "--max-new-tokens", "12", "--device", "cpu"]
    theirs = binary(*args, "--constrain", "requested", "--json")
    assert theirs.returncode == 0, theirs.stderr
    assert_same(tat_cli(*args, "--constrain", "requested", "--json"), theirs)
    report = json.loads(theirs.stdout)
    assert report["constrain"] == "requested" and report["beam"] == 4
    assert report["overall"]["requests"] == len(report["results"]) >= 150
    # Saved beside the greedy report, not over it.
    saved = json.loads((tiny_run.run_dir / "eval_best_wgsl_free_requests_constrained_requested.json").read_text())
    assert saved["constrain"] == "requested"


def test_generate_refuses_to_constrain_a_prompt_to_its_requested_kind(tiny_run: tat.Run) -> None:
    args = ["generate", "--model", tiny_run.run_dir, "--prompt", "red", "--constrain", "requested"]
    theirs = binary(*args)
    ours = tat_cli(*args)
    assert theirs.returncode == ours.exit_code == 2
    assert "a prompt has none" in theirs.stderr and "a prompt has none" in ours.output


def test_eval_of_free_requests_refuses_a_split(tiny_run: tat.Run) -> None:
    requests = ROOT / "config" / "wgsl_free_requests.toml"
    args = ["eval", tiny_run.run_dir, "--requests", requests, "--split", "val"]
    theirs = binary(*args)
    ours = tat_cli(*args)
    assert theirs.returncode == ours.exit_code == 2
    assert "--split" in theirs.stderr and "--split" in ours.output


# --- validate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["good.wgsl"],
        ["good.wgsl", "bad.wgsl"],
        ["--json", "good.wgsl", "bad.wgsl"],
        ["snippet.wgsl"],
        ["--snippet", "snippet.wgsl"],
        ["missing.wgsl"],
        ["-"],
    ],
    ids=["good", "bad", "json", "module-only", "snippet", "missing", "stdin"],
)
def test_validate_prints_and_exits_like_the_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    (tmp_path / "good.wgsl").write_text(GOOD_MODULE)
    (tmp_path / "bad.wgsl").write_text(BAD_MODULE)
    (tmp_path / "snippet.wgsl").write_text("let x = vec3<f32>(1.0, 0.0, 0.0);\n")
    monkeypatch.chdir(tmp_path)
    stdin = BAD_MODULE if args == ["-"] else None
    theirs = binary("validate", *args, stdin=stdin, cwd=tmp_path)
    assert_same(tat_cli("validate", *args, stdin=stdin), theirs)


# --- init, list, show, check ------------------------------------------------------------------


def test_init_writes_the_binarys_starter_files_and_refuses_to_overwrite(tmp_path: Path) -> None:
    theirs = binary("init", tmp_path / "bin")
    ours = tat_cli("init", tmp_path / "tat")
    assert ours.exit_code == theirs.returncode == 0
    assert ours.stdout == theirs.stdout.replace(str(tmp_path / "bin"), str(tmp_path / "tat")).replace(
        "tiny-agent-trainer train", "tat train"
    )
    for name in ("tat.toml", "wgsl_training_data.toml"):
        assert (tmp_path / "tat" / name).read_bytes() == (tmp_path / "bin" / name).read_bytes()

    again = tat_cli("init", tmp_path / "tat")
    assert again.exit_code == 2 and "--force" in again.stderr
    assert tat_cli("init", tmp_path / "tat", "--force").exit_code == 0


def test_list_show_and_check_print_what_the_binary_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert_same(tat_cli("list"), binary("list", cwd=ROOT))
    assert_same(tat_cli("list", "no/such/folder"), binary("list", "no/such/folder", cwd=ROOT))
    show = ["show", "--config", "config/wgsl_small.toml"]
    assert_same(tat_cli(*show), binary(*show))
    # Its own process: another test may have set this process's libtorch threads. The bf16
    # speed `check` measures (on CPUs with bf16 units) differs a little from run to run.
    ours, theirs = tat_process("check"), binary("check")
    for result in (ours, theirs):
        result.stdout = without_timings(result.stdout)
    assert_same(ours, theirs)
    assert re.search(r"^precision on cpu: (fp32|bf16) \(auto: cpu capability \w+", ours.stdout, re.M), ours.stdout


# --- train ------------------------------------------------------------------------------------


def test_a_bad_config_exits_2_naming_the_field_without_a_traceback(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path)
    config.write_text(config.read_text().replace("batch_size", "batch_sise"))
    ours = tat_process("train", "--config", config, "--out", tmp_path / "run")
    theirs = binary("train", "--config", config, "--out", tmp_path / "run")
    assert ours.returncode == 2
    assert "batch_sise" in ours.stderr and "Traceback" not in ours.stderr
    assert_same(ours, theirs)


def test_bad_overrides_exit_2_like_the_binary(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path)
    for item in ("training.batch_sise=4", "training.epochs=-1", "epochs"):
        args = ["train", "--config", config, "--out", tmp_path / "run", "--set", item]
        ours, theirs = tat_cli(*args), binary(*args)
        assert ours.exit_code == 2 and ours.stderr.startswith("error: "), ours.stderr
        assert (ours.exit_code, ours.stderr) == (theirs.returncode, theirs.stderr)


def without_timings(text: str) -> str:
    """`text` without what differs between runs: epoch times and the bf16 speed `auto` measures."""
    return re.sub(r"measured [0-9.]+x", "measured Nx", re.sub(r"\d+\.\ds  \d+ tok/s", "<time>", text))


def test_train_with_overrides_prints_what_the_binary_prints(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path, epochs=5)
    flags = ["--set", "training.epochs=2", "--set", "training.learning_rate=1e-3", "--device", "cpu"]
    ours = tat_process("train", "--config", config, "--out", tmp_path / "run", *flags)
    theirs = binary("train", "--config", config, "--out", tmp_path / "bin", *flags)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert re.search(r"^done: 2 epochs; best val_loss \d+\.\d{4} at epoch \d", ours.stdout, re.M), ours.stdout
    expected = without_timings(theirs.stdout).replace(str(tmp_path / "bin"), str(tmp_path / "run"))
    assert without_timings(ours.stdout) == expected
    assert without_timings(ours.stderr) == without_timings(theirs.stderr).replace(
        str(tmp_path / "bin"), str(tmp_path / "run")
    )
    assert re.search(r"^precision: (fp32|bf16) \(auto: ", ours.stderr, re.M), ours.stderr
    assert json.loads((tmp_path / "run" / "last" / "state.json").read_text())["epoch"] == 2


def test_ctrl_c_saves_last_and_exits_130_with_the_engines_message(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path, epochs=1000)
    run = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-m", "tiny_agent_trainer", "train", "--config", str(config), "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().startswith("epoch   1/1000")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupt: saving `last`" in err and "--resume" in err.splitlines()[-1], err
    assert err.splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert (run / "last" / "model.safetensors").is_file()


# --- plot, schema -----------------------------------------------------------------------------


def test_plot_writes_a_png_of_the_runs_curves(tiny_run: tat.Run, tmp_path: Path) -> None:
    result = tat_cli("plot", tiny_run.run_dir)
    assert result.exit_code == 0, result.output
    png = tiny_run.run_dir / "loss.png"
    assert result.stdout == f"wrote {png}\n"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    elsewhere = tmp_path / "curves.png"
    assert tat_cli("plot", tiny_run.run_dir, "--out", elsewhere).exit_code == 0
    assert elsewhere.read_bytes().startswith(b"\x89PNG")


def test_plot_of_a_folder_without_metrics_exits_3(tmp_path: Path) -> None:
    result = tat_cli("plot", tmp_path)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: {tmp_path}: no epochs recorded")


def test_schema_prints_the_configs_json_schema() -> None:
    result = tat_cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == json_schema()
    assert set(schema["properties"]) == {"task", "model", "training", "tokenizer", "dataset", "baseline", "frameworks"}
