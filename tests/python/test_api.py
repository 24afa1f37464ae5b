"""The Python API over the native module: validation, typed errors, train -> load -> generate,
agreement with the CLI binary, Ctrl-C, and the `.pyi` stubs against the module."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import tiny_agent_trainer as tat
from conftest import PROMPTS, ROOT, binary, write_tiny_config


@pytest.fixture(scope="module")
def model(tiny_run: tat.Run) -> tat.Model:
    return tat.load(tiny_run.run_dir, device="cpu")


# --- validation -------------------------------------------------------------------------------


def test_validate_wgsl_accepts_valid_code() -> None:
    assert tat.validate_wgsl("vec3<f32>(1.0, 0.0, 0.0)") == []
    module = "@fragment\nfn main() -> @location(0) vec4<f32> { return vec4<f32>(1.0); }\n"
    assert tat.validate_wgsl(module, snippet=False) == []


def test_validate_wgsl_reports_line_column_and_message_like_the_cli(tmp_path: Path) -> None:
    source = "fn f() -> f32 {\n    return 1.0 +;\n}\n"
    [d] = tat.validate_wgsl(source, snippet=False)
    assert (d.line, d.column) == (2, 17)
    assert d.message
    assert d.render("shader.wgsl") == f"shader.wgsl:2:17: {d.message}"

    file = tmp_path / "shader.wgsl"
    file.write_text(source)
    result = binary("validate", file, "--json")
    assert result.returncode == 1
    [report] = json.loads(result.stdout)
    assert report["diagnostics"] == [{"line": d.line, "column": d.column, "message": d.message}]


# --- errors -----------------------------------------------------------------------------------


def cli_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr.removeprefix("error: ").rstrip("\n")


def test_missing_checkpoint_raises_checkpoint_error_with_the_cli_message(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_run"
    with pytest.raises(tat.CheckpointError) as raised:
        tat.load(missing)
    assert isinstance(raised.value, tat.TatError)
    result = binary("generate", "--model", missing, "--prompt", "x")
    assert result.returncode == 3
    assert str(raised.value) == cli_error(result)


def test_bad_config_raises_config_error_with_the_cli_message(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path)
    config.write_text(config.read_text().replace("batch_size", "batch_sise"))
    with pytest.raises(tat.ConfigError) as raised:
        tat.train(config, out=tmp_path / "run")
    assert "batch_sise" in str(raised.value)
    result = binary("train", "--config", config, "--out", tmp_path / "run")
    assert result.returncode == 2
    assert str(raised.value) == cli_error(result)


def test_missing_config_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(tat.ConfigError, match="config file not found"):
        tat.train(tmp_path / "nope.toml")


def test_bad_device_raises_usage_error(tiny_run: tat.Run) -> None:
    with pytest.raises(tat.UsageError, match="unknown device `gpu`"):
        tat.load(tiny_run.run_dir, device="gpu")


def test_conflicting_decoding_options_raise_usage_error(model: tat.Model) -> None:
    with pytest.raises(tat.UsageError, match="beam search"):
        model.generate("x", temperature=0.8, beam=4)
    with pytest.raises(tat.UsageError, match="only apply to sampling"):
        model.generate("x", top_k=5)
    with pytest.raises(tat.UsageError, match="temperature = 0"):
        model.generate("x", temperature=0.0)


# --- train, load, generate --------------------------------------------------------------------


def test_train_returns_the_summary_and_metrics_as_numpy_arrays(tiny_run: tat.Run) -> None:
    assert tiny_run.epochs_completed == 2
    assert (tiny_run.run_dir / "best").is_dir() and (tiny_run.run_dir / "last").is_dir()
    assert tiny_run.epoch.dtype == np.int64 and list(tiny_run.epoch) == [1, 2]
    assert tiny_run.train_loss.dtype == np.float64 and tiny_run.train_loss.shape == (2,)
    assert np.all(np.isfinite(tiny_run.val_loss)) and np.all(tiny_run.lr > 0)
    assert tiny_run.best_val_loss == pytest.approx(float(tiny_run.val_loss.min()))


def test_runs_and_models_say_their_precision_and_a_model_loads_in_either(tiny_run: tat.Run) -> None:
    assert set(tiny_run.metrics["precision"]) <= {"fp32", "bf16"}
    state = json.loads((tiny_run.run_dir / "last" / "state.json").read_text())
    assert state["precision"] in ("fp32", "bf16") and state["precision_reason"].startswith("auto: ")
    for precision in ("fp32", "bf16"):
        with warnings.catch_warnings():
            # bf16 warns on CPUs where it is slow (test_bf16_on_a_cpu_without_bf16_units_warns...).
            warnings.simplefilter("ignore", RuntimeWarning)
            model = tat.load(tiny_run.run_dir, device="cpu", precision=precision)
        assert model.precision == precision
        assert model.precision_reason == f"{precision} (set explicitly)"
        assert model.generate(PROMPTS[0], max_new_tokens=8)
    with pytest.raises(tat.UsageError, match="unknown precision `fp16`"):
        tat.load(tiny_run.run_dir, precision="fp16")


def test_bf16_on_a_cpu_without_bf16_units_warns_with_the_fix(tiny_run: tat.Run) -> None:
    # libtorch held to its AVX2 kernels reports capability AVX2, as on a CPU without bf16 units.
    script = f"""
import warnings, tiny_agent_trainer as tat
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = tat.load({str(tiny_run.run_dir)!r}, device="cpu", precision="bf16")
print(model.precision, "|", model.precision_reason)
for w in caught:
    print(w.category.__name__, "|", w.message)
"""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "bf16 | bf16 (set explicitly)" in done.stdout
    assert "RuntimeWarning | precision = \"bf16\" on this CPU (cpu capability AVX2" in done.stdout, done.stdout
    assert 'Fix: set training.precision = "auto" or "fp32"' in done.stdout, done.stdout


def test_generate_answers_a_string_and_a_batch(model: tat.Model) -> None:
    one = model.generate(PROMPTS[0], max_new_tokens=30)
    assert isinstance(one, str)
    batch = model.generate(PROMPTS, max_new_tokens=30)
    assert isinstance(batch, list) and len(batch) == 2 and all(isinstance(a, str) for a in batch)
    beams = model.generate(PROMPTS, beam=3, max_new_tokens=30)
    assert len(beams) == 2 and all(isinstance(a, str) for a in beams)


def test_sampling_is_seeded(model: tat.Model) -> None:
    first = model.generate(PROMPTS, temperature=1.5, seed=7, max_new_tokens=30)
    assert model.generate(PROMPTS, temperature=1.5, seed=7, max_new_tokens=30) == first


def test_model_exposes_config_and_token_ids(model: tat.Model) -> None:
    assert "d_model = 32" in model.config
    assert model.max_new_tokens == 511
    ids = model.token_ids("Create a red color")
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.size > 0


def test_evaluate_returns_the_cli_report(model: tat.Model) -> None:
    progress: list[tuple[int, int]] = []
    report = model.evaluate("test", max_new_tokens=20, save=False, on_progress=lambda *p: progress.append(p))
    assert isinstance(report, dict) and report["set"] == "test"
    assert report["overall"]["examples"] == len(report["results"]) > 0
    assert 0.0 <= report["overall"]["token_accuracy"] <= 100.0
    assert progress[-1] == (len(report["results"]),) * 2
    assert "overall" in report.table() and json.loads(report.to_json()) == report
    assert report.saved is None


def test_constrain_names_a_kind(model: tat.Model) -> None:
    with pytest.raises(tat.TatError, match="expected expression, statement, function, module, or requested"):
        model.generate("red", constrain="modul")
    with pytest.raises(tat.TatError, match="a prompt has none"):
        model.generate("red", constrain="requested")


def test_evaluate_judges_a_request_file(model: tat.Model) -> None:
    requests = ROOT / "config" / "wgsl_free_requests.toml"
    report = model.evaluate(requests=requests, max_new_tokens=20, save=False)
    assert report["set"] == "wgsl_free_requests" and report["overall"]["requests"] == len(report["results"])
    assert "(module)" in report.table() and json.loads(report.to_json()) == report
    with pytest.raises(tat.TatError, match="no `split` or `data`"):
        model.evaluate("test", requests=requests)


@pytest.mark.parametrize(
    ("flags", "keywords"),
    [
        ([], {}),
        (["--beam", "3"], {"beam": 3}),
        (["--temperature", "0.9", "--top-k", "8", "--seed", "5"], {"temperature": 0.9, "top_k": 8, "seed": 5}),
        (["--constrain", "expression"], {"constrain": "expression"}),
        (["--constrain", "module", "--temperature", "0.9", "--seed", "3"], {"constrain": "module", "temperature": 0.9, "seed": 3}),
    ],
)
def test_generate_matches_the_cli(tiny_run: tat.Run, model: tat.Model, flags: list[str], keywords: dict) -> None:
    prompts = [arg for p in PROMPTS for arg in ("--prompt", p)]
    args = ["--model", tiny_run.run_dir, *prompts, "--max-new-tokens", "30", "--device", "cpu", *flags]
    result = binary("generate", *args)
    assert result.returncode == 0, result.stderr
    answers = model.generate(PROMPTS, max_new_tokens=30, **keywords)
    assert result.stdout == "".join(f"// prompt: {p}\n{a}\n" for p, a in zip(PROMPTS, answers))


def test_train_takes_a_config_object_resolving_its_dataset_beside_the_file(tmp_path: Path) -> None:
    config = tat.Config.from_toml(write_tiny_config(tmp_path)).with_overrides(["training.epochs=1"])
    steps: list[tat.StepProgress] = []
    run = tat.train(config, out=tmp_path / "run", on_step=steps.append, threads=1)
    assert run.epochs_completed == 1 and [s.batch for s in steps] == [1, 2, 3, 4]
    assert isinstance(run.load(device="cpu").generate("x", max_new_tokens=3), str)


def test_generate_releases_the_gil(model: tat.Model) -> None:
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    thread = threading.Thread(target=tick)
    thread.start()
    try:
        model.generate(PROMPTS * 4, max_new_tokens=200)
    finally:
        done.set()
        thread.join()
    assert ticks > 20


def test_a_callback_exception_stops_the_run_and_is_raised(tmp_path: Path) -> None:
    def fail(metrics: tat.EpochMetrics) -> None:
        raise ValueError(f"stop after epoch {metrics.epoch}")

    with pytest.raises(ValueError, match="stop after epoch 1"):
        tat.train(write_tiny_config(tmp_path, epochs=5), out=tmp_path / "run", on_epoch=fail)
    assert (tmp_path / "run" / "last").is_dir()


# --- Ctrl-C -----------------------------------------------------------------------------------


CTRL_C_SCRIPT = """\
import signal, sys, time
import tiny_agent_trainer as tat

# A process started in the background inherits SIGINT ignored, and Python then keeps it ignored;
# a user at a terminal has Python's own handler, which is what this test is about.
signal.signal(signal.SIGINT, signal.default_int_handler)

def on_step(p):
    # After a whole epoch: libtorch's first steps are slow while it warms up.
    if (p.epoch, p.batch) == (2, 2):
        print("training", flush=True)

try:
    tat.train(sys.argv[1], out=sys.argv[2], on_step=on_step)
except KeyboardInterrupt as e:
    print(f"interrupted {time.time()!r} {e}", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_raises_keyboard_interrupt_within_a_second_and_saves_last(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path, epochs=1000)
    run = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, str(config), str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "training\n"
    sent = time.time()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    _, caught, message = out.split(" ", 2)
    assert float(caught) - sent < 1.0
    assert "saved" in message and "last" in message
    assert isinstance(tat.load(run / "last", device="cpu").generate("x", max_new_tokens=5), str)


# --- stubs ------------------------------------------------------------------------------------


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS...` in the project root, for mypy and mypy.stubtest."""
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_stubs_match_the_native_module() -> None:
    result = mypy("mypy.stubtest", "--mypy-config-file", "pyproject.toml", "tiny_agent_trainer._core")
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_is_typed() -> None:
    assert (Path(tat.__file__).parent / "py.typed").is_file()


def test_the_package_type_checks_against_its_stubs() -> None:
    result = mypy("mypy", "--config-file", "pyproject.toml", "python/tiny_agent_trainer")
    assert result.returncode == 0, result.stdout + result.stderr
