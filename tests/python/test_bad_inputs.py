"""The bad-input corpus (tests/bad_inputs/cases.toml): every command exits with its code and
names the file or field and the fix, with no panic, traceback, crash or hang, under an
address-space limit that refuses huge allocations. The same for the Python API (task data,
checkpoints, arguments), in-process, below. A case marked `defect` is skipped with its text
until the tool meets it.

The commands run a few at a time (each one mostly loads libtorch), their output going to files;
each test then checks its own case's result.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import time
import tomllib
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tiny_agent_trainer as tat
from conftest import BIN, ROOT, missing_binary

INPUTS = ROOT / "tests" / "bad_inputs"
CASES: list[dict[str, Any]] = tomllib.loads((INPUTS / "cases.toml").read_text(encoding="utf-8"))["case"]
CATEGORIES = {"dataset", "wgsl", "checkpoint", "cli", "python"}
# libtorch maps its CUDA libraries at start-up: `show` needs about 4 GiB of address space.
ADDRESS_SPACE = 8 << 30
TIMEOUT = 60
DEFAULT_MAX_OUTPUT = 16384
# What a user must never see: a Rust panic (the binary's hook words it "internal error"), a
# Python traceback, a crash.
FORBIDDEN = ("panicked", "internal error", "traceback (most recent call last)", "stack overflow", "core dumped")
TAT = Path(sys.executable).with_name("tat")
# TAT_RUN_DEFECTS=1 runs the cases marked `defect` too, as strict expected failures: one that
# passes has been fixed, and its marker should go.
RUN_DEFECTS = os.environ.get("TAT_RUN_DEFECTS") == "1"


def limits() -> None:
    """In the child: no allocation past ADDRESS_SPACE and no core file."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


# --- setup recipes ----------------------------------------------------------------------------


def rechecksum(folder: Path) -> None:
    """Rewrites checksums.json for the files as they now are, so a damage reaches the reader of
    the damaged file instead of stopping at the checksum check (CRC-32 as zlib computes it)."""
    listed = json.loads((folder / "checksums.json").read_text())["files"]
    files = {}
    for name in listed:
        if (folder / name).exists():
            data = (folder / name).read_bytes()
            files[name] = {"bytes": len(data), "crc32": f"{zlib.crc32(data):08x}"}
    (folder / "checksums.json").write_text(json.dumps({"files": files}))


def dataset(examples: list[tuple[str, str]]) -> str:
    return "".join(
        f'[[examples]]\nnatural_language = """{prompt}"""\nwgsl_code = """{code}"""\ncategory = "color"\n\n'
        for prompt, code in examples
    )


FINE = [
    ("Create a red color", "vec4<f32>(1.0, 0.0, 0.0, 1.0)"),
    ("Create a blue color", "vec4<f32>(0.0, 0.0, 1.0, 1.0)"),
    ("Create a green color", "vec4<f32>(0.0, 1.0, 0.0, 1.0)"),
]


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


GENERATORS: dict[str, Callable[[Path], object]] = {
    # A 2 MB prompt on one line: refused by max_seq_len, in a message of sensible size.
    "dataset_long_prompt": lambda p: p.write_text(dataset([*FINE, ("Make it red" + " very" * 400_000, "1.0")])),
    "dataset_chain": lambda p: p.write_text(dataset([*FINE, ("Add many ones", "1.0" + " + 1.0" * 40_000)])),
    "wgsl_parens": lambda p: p.write_text("fn f() -> f32 { return " + "(" * 100_000 + "1.0" + ")" * 100_000 + "; }\n"),
    "wgsl_blocks": lambda p: p.write_text("fn f() { " + "{" * 100_000 + "}" * 100_000 + " }\n"),
    "wgsl_chain": lambda p: p.write_text("fn f() -> f32 { return 1.0" + " + 1.0" * 30_000 + "; }\n"),
    "wgsl_chain_long": lambda p: p.write_text("fn f() -> f32 { return 1.0" + " + 1.0" * 200_000 + "; }\n"),
    "wgsl_member_chain": lambda p: p.write_text(
        "fn f() -> f32 { let v = vec4<f32>(1.0); return v" + ".xxxx" * 30_000 + ".x; }\n"
    ),
    "random_bytes": lambda p: p.write_bytes(b"\xff" + random.Random(0).randbytes(4096)),
    "config_d_model_64": lambda p: p.write_text(p.read_text().replace("d_model = 32", "d_model = 64")),
    "tokenizer_300_pieces": lambda p: edit_json(p, lambda t: t.update(pieces=t["pieces"][:300])),
}


def idx_file(dims: list[int], data: bytes, magic: bytes = b"\x00\x00\x08") -> bytes:
    return magic + bytes([len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def write_idx(folder: Path, variant: str) -> None:
    """The four MNIST-format files of 30 4x4 images, with one thing wrong (`variant`)."""
    n, side = (0, 4) if variant == "no_images" else (30, 4)
    images = idx_file([n, side, side], bytes(i * 7 % 256 for i in range(n * side * side)))
    labels = idx_file([n], bytes(i % 10 for i in range(n)))
    files: dict[str, bytes | None] = {}
    for prefix in ("train", "t10k"):
        files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"] = images, labels
    changes: dict[str, dict[str, bytes | None]] = {
        "no_images": {},
        "truncated_images": {"train-images-idx3-ubyte": images[:100]},
        "header_cut": {"train-labels-idx1-ubyte": b"\x00\x00\x08\x01\x00"},
        "wrong_magic": {"train-images-idx3-ubyte": b"\x1f\x8b\x08\x03" + images[4:]},
        "count_mismatch": {"train-labels-idx1-ubyte": idx_file([29], bytes(i % 10 for i in range(29)))},
        "huge_dims": {"train-images-idx3-ubyte": idx_file([0xFFFFFFFF] * 3, b"")},
        # 16 x 2^30 x 2^30 = 2^64: a product that wraps to the 0 bytes the file holds.
        "dims_overflow": {
            "t10k-images-idx3-ubyte": idx_file([16, 1 << 30, 1 << 30], b""),
            "t10k-labels-idx1-ubyte": idx_file([16], bytes(i % 10 for i in range(16))),
        },
        "label_out_of_range": {"train-labels-idx1-ubyte": idx_file([30], bytes([11] * 30))},
        "missing_file": {"t10k-labels-idx1-ubyte": None},
        "not_gzip": {"train-images-idx3-ubyte": None, "train-images-idx3-ubyte.gz": b"not gzip at all"},
        "gz_truncated": {"train-images-idx3-ubyte": None, "train-images-idx3-ubyte.gz": gzip.compress(images[:200])},
        "rank1_images": {"train-images-idx3-ubyte": idx_file([30], bytes(30))},
        "zero_pixels": {
            "train-images-idx3-ubyte": idx_file([30, 0, 4], b""),
            "t10k-images-idx3-ubyte": idx_file([30, 0, 4], b""),
        },
        "member_is_folder": {"train-images-idx3-ubyte": None},
    }
    files.update(changes[variant])
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if data is not None:
            (folder / name).write_bytes(data)
    if variant == "member_is_folder":
        (folder / "train-images-idx3-ubyte").mkdir()


def size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def apply(recipe: str) -> None:
    """One `recipe:path[:argument]` of a case's `setup` (placeholders already filled in)."""
    kind, _, rest = recipe.partition(":")
    where, _, argument = rest.partition(":")
    path = Path(where)
    if kind in ("text", "hex", "sparse"):
        path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "truncate":
        os.truncate(path, int(argument))
    elif kind == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif kind == "delete":
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    elif kind == "mkdir":
        path.mkdir(parents=True)
    elif kind == "text":
        path.write_text(argument, encoding="utf-8")
    elif kind == "hex":
        path.write_bytes(bytes.fromhex(argument))
    elif kind == "copy":
        shutil.copyfile(argument, path)
    elif kind == "json":
        key, _, value = argument.partition("=")
        edit_json(path, lambda d: d.__setitem__(key, json.loads(value)))
    elif kind == "rechecksum":
        rechecksum(path)
    elif kind == "sparse":
        with open(path, "wb") as f:
            f.truncate(size(argument))
    elif kind == "safetensors_header":
        path.write_bytes(struct.pack("<Q", int(argument)) + path.read_bytes()[8:])
    elif kind == "gen":
        GENERATORS[argument](path)
    elif kind == "idx":
        write_idx(path, argument)
    else:
        raise ValueError(f"unknown setup recipe {recipe!r}")


# --- running the manifest's cases ---------------------------------------------------------------


@dataclass
class Outcome:
    returncode: int | None = None
    output: str = ""
    timed_out: bool = False
    setup_error: str | None = None


@dataclass
class Prepared:
    command: list[str]
    folder: Path
    stdin: bytes | None = None


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def prepare(case: dict[str, Any], folder: Path, tiny_run: Path) -> Prepared:
    """The case's folder with its inputs made, and its command with the placeholders filled in."""
    folder.mkdir(parents=True, exist_ok=True)
    run = folder / "run"
    values = {
        "bin": str(BIN),
        "tat": str(TAT),
        "inputs": str(INPUTS),
        "case": str(INPUTS / case.get("file", "")),
        "tmp": str(folder),
        "run": str(run),
        "tiny_config": str(tiny_run.parent / "tiny.toml"),
    }
    setup = case.get("setup", [])
    if any("{run}" in part for part in [*case["command"], *setup]):
        shutil.copytree(tiny_run, run)
    for recipe in setup:
        apply(fill(recipe, values))
    stdin = bytes.fromhex(case["stdin_hex"]) if "stdin_hex" in case else None
    return Prepared([fill(part, values) for part in case["command"]], folder, stdin)


def run_all(prepared: dict[str, Prepared], parallel: int) -> dict[str, Outcome]:
    """Runs the commands `parallel` at a time, each with its output in a file of its folder,
    killing any that runs past TIMEOUT. All from this one thread: Popen with a `preexec_fn` is not
    safe from several threads at once."""
    waiting = list(prepared.items())
    running: dict[str, tuple[subprocess.Popen[bytes], float, Path]] = {}
    outcomes: dict[str, Outcome] = {}
    while waiting or running:
        while waiting and len(running) < parallel:
            name, p = waiting.pop(0)
            log = p.folder / "output.log"
            stdin_path = p.folder / "stdin.bin"
            stdin_path.write_bytes(p.stdin or b"")
            with open(log, "wb") as out, open(stdin_path, "rb") as stdin:
                process = subprocess.Popen(
                    p.command, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, cwd=p.folder, preexec_fn=limits
                )
            running[name] = (process, time.monotonic(), log)
        for name, (process, started, log) in list(running.items()):
            elapsed = time.monotonic() - started
            timed_out = process.poll() is None and elapsed > TIMEOUT
            if timed_out:
                process.kill()
                process.wait()
            if process.returncode is not None:
                output = log.read_bytes().decode("utf-8", errors="replace")
                outcomes[name] = Outcome(process.returncode, output, timed_out)
                del running[name]
        time.sleep(0.02)
    return outcomes


def skip_reason(case: dict[str, Any]) -> str | None:
    if "defect" in case and not RUN_DEFECTS:
        return f"defect: {case['defect']}"
    if case.get("requires") == "no_cuda" and cuda_available():
        return "libtorch sees a CUDA device here"
    if case["command"][0] == "{tat}" and not TAT.is_file():
        return f"{TAT} is not installed (make develop)"
    return None


@pytest.fixture(scope="session")
def outcomes(
    request: pytest.FixtureRequest, tiny_run: tat.Run, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """The outcome of every selected case that runs, by name."""
    here = Path(__file__)
    selected = {
        item.callspec.params["case"]["name"]
        for item in request.session.items
        if item.path == here and hasattr(item, "callspec") and "case" in item.callspec.params
    }
    results: dict[str, Outcome] = {}
    prepared: dict[str, Prepared] = {}
    for case in CASES:
        if case["name"] not in selected or skip_reason(case) or (case["command"][0] == "{bin}" and not BIN.is_file()):
            continue
        try:
            prepared[case["name"]] = prepare(case, tmp_path_factory.mktemp("case"), tiny_run.run_dir)
        except Exception as e:  # reported by the case's own test
            results[case["name"]] = Outcome(setup_error=f"{type(e).__name__}: {e}")
    results.update(run_all(prepared, parallel=max(1, min(4, os.cpu_count() or 1))))
    return results


def test_the_manifest_is_complete() -> None:
    names = [case["name"] for case in CASES]
    assert len(CASES) >= 50, len(CASES)
    assert len(set(names)) == len(names), [n for n, k in Counter(names).items() if k > 1]
    for case in CASES:
        assert {"name", "category", "command", "exit", "words"} <= case.keys(), case["name"]
        assert case["category"] in CATEGORIES, case["name"]
        assert case["words"], case["name"]
        if "file" in case:
            assert (INPUTS / case["file"]).is_file(), case["name"]
    categories = Counter([*(case["category"] for case in CASES), *(py_case.category for py_case in PY_CASES)])
    assert all(categories[c] >= 8 for c in CATEGORIES), categories


def check_output(output: str, words: list[str], max_output: int) -> None:
    lowered = output.lower()
    for word in FORBIDDEN:
        assert word not in lowered, f"`{word}` in the output:\n{output[:3000]}"
    missing = [w for w in words if w.lower() not in lowered]
    assert not missing, f"missing {missing} in:\n{output[:3000]}"
    assert len(output.encode()) <= max_output, f"{len(output.encode())} bytes of output:\n{output[:3000]}"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_bad_input(case: dict[str, Any], outcomes: dict[str, Outcome], request: pytest.FixtureRequest) -> None:
    reason = skip_reason(case)
    if reason:
        pytest.skip(reason)
    if "defect" in case:
        request.applymarker(pytest.mark.xfail(reason=case["defect"], strict=True))
    if case["command"][0] == "{bin}" and not BIN.is_file():
        missing_binary(f"{BIN} is not built (make build)")
    outcome = outcomes[case["name"]]
    assert outcome.setup_error is None, outcome.setup_error
    assert not outcome.timed_out, f"still running after {TIMEOUT} s:\n{outcome.output[:3000]}"
    assert outcome.returncode is not None and outcome.returncode >= 0, (
        f"killed by signal {-(outcome.returncode or 0)}:\n{outcome.output[:3000]}"
    )
    expected = case["exit"]
    assert outcome.returncode == expected, f"exit {outcome.returncode}, expected {expected}:\n{outcome.output[:3000]}"
    check_output(outcome.output, case["words"], case.get("max_output", DEFAULT_MAX_OUTPUT))


def test_the_address_space_limit_lets_a_normal_run_through(tiny_run: tat.Run, tmp_path: Path) -> None:
    if not BIN.is_file():
        missing_binary(f"{BIN} is not built (make build)")
    command = [str(BIN), "generate", "--model", str(tiny_run.run_dir), "--prompt", "Create a red color"]
    prepared = {"generate": Prepared([*command, "--max-new-tokens", "8"], tmp_path)}
    outcome = run_all(prepared, parallel=1)["generate"]
    assert outcome.returncode == 0, outcome.output


# --- the Python API, in-process -------------------------------------------------------------------

_RNG = np.random.default_rng(0)
X = np.where(_RNG.random((40, 100)) < 0.5, -1.0, 1.0).astype(np.float32)
Y = (np.arange(40) % 10).astype(np.int64)
VAL = {"val": {"x": X[:20], "labels": Y[:20]}}


@dataclass
class Context:
    tmp: Path
    run: Path

    def train_bionet(self, data: Any) -> object:
        """A bionet with `dataset.source = "python"` trained on `data` (one epoch)."""
        config = tat.Config.from_toml(ROOT / "config" / "bionet_prototypes.toml").with_overrides(
            [
                'dataset.source="python"',
                "dataset.classes=10",
                "training.epochs=1",
                'training.device="cpu"',
                f"training.output_dir={json.dumps(str(self.tmp / 'out'))}",
            ]
        )
        return tat.train(config, data=data)

    def train_text(self, data: Any) -> object:
        return tat.train(self.run.parent / "tiny.toml", out=self.tmp / "out", data=data)


@dataclass
class PyCase:
    name: str
    category: str
    call: Callable[[Context], object]
    error: type[BaseException]
    words: list[str]
    setup: list[str] = field(default_factory=list)
    defect: str | None = None


def train(data: Any) -> Callable[[Context], object]:
    return lambda c: c.train_bionet(data)


def with_train(x: Any = X, labels: Any = Y) -> dict[str, Any]:
    return {"train": {"x": x, "labels": labels}, **VAL}


def raises(_: int, __: int) -> dict[str, Any]:
    raise ZeroDivisionError("the user's own bug")


X_NAN = X.copy()
X_NAN[3, 5] = np.nan

PY_CASES = [
    PyCase(
        "data_labels_fractional_floats",
        "python",
        train(with_train(labels=Y + 0.5)),
        tat.UsageError,
        ['data["train"]', "`labels`", "int64", "Fix"],
    ),
    PyCase(
        "data_x_of_bools", "python", train(with_train(x=X > 0)), tat.UsageError, ['data["train"]["x"]', "bool", "Fix:"]
    ),
    PyCase(
        "data_x_of_objects",
        "python",
        train(with_train(x=X.astype(object))),
        tat.UsageError,
        ['data["train"]["x"]', "object", "Fix:"],
    ),
    PyCase(
        "data_labels_uint64",
        "python",
        train(with_train(labels=Y.astype(np.uint64))),
        tat.UsageError,
        ['data["train"]["labels"]', "uint64", "np.int64"],
    ),
    PyCase(
        "data_x_rank_3",
        "python",
        train(with_train(x=X.reshape(40, 10, 10))),
        tat.UsageError,
        ["`x`", "[40, 10, 10]", "expected [N, 100]", "Fix:"],
    ),
    PyCase(
        "data_labels_rank_2",
        "python",
        train(with_train(labels=Y.reshape(40, 1))),
        tat.UsageError,
        ["`labels`", "[40, 1]", "expected [40]", "Fix:"],
    ),
    PyCase(
        "data_mismatched_rows",
        "python",
        train(with_train(labels=Y[:30])),
        tat.UsageError,
        ["`labels`", "[30]", "expected [40]", "Fix:"],
    ),
    PyCase(
        "data_nan_in_x", "python", train(with_train(x=X_NAN)), tat.UsageError, ['data["train"]', "`x`", "NaN", "Fix:"]
    ),
    PyCase(
        "data_negative_labels",
        "python",
        train(with_train(labels=Y - 5)),
        tat.UsageError,
        ["`labels`", "-5", "outside 0..10", "Fix:"],
    ),
    PyCase(
        "data_empty_training_set",
        "python",
        train(with_train(x=X[:0], labels=Y[:0])),
        tat.UsageError,
        ['data["train"]', "empty", "Fix"],
    ),
    PyCase(
        "data_extra_array",
        "python",
        train({"train": {"x": X, "labels": Y, "weights": X}, **VAL}),
        tat.UsageError,
        ['data["train"]', "`weights`", "Fix:"],
    ),
    PyCase(
        "data_callable_returns_a_list",
        "python",
        train({"train": lambda s, e: [X, Y], **VAL}),
        tat.UsageError,
        ['data["train"](0, 0)', "not a dict", "Fix:"],
    ),
    PyCase(
        "data_callable_returns_wrong_width",
        "python",
        train({"train": lambda s, e: {"x": X[:, :50], "labels": Y}, **VAL}),
        tat.UsageError,
        ["epoch 1", "`x`", "[40, 50]", "Fix:"],
    ),
    PyCase(
        "data_callable_raises",
        "python",
        train({"train": raises, **VAL}),
        tat.UsageError,
        ['data["train"](0, 0)', "ZeroDivisionError"],
    ),
    PyCase("data_without_train", "python", train(dict(VAL)), tat.UsageError, ['"train"', "Fix:"]),
    PyCase("data_without_val", "python", train({"train": {"x": X, "labels": Y}}), tat.UsageError, ['"val"', "Fix:"]),
    PyCase(
        "data_not_a_dict",
        "python",
        train([{"x": X, "labels": Y}]),
        tat.UsageError,
        ["data is a list", "pass a dict of arrays by split"],
    ),
    PyCase(
        "data_key_not_a_string",
        "python",
        train({1: {"x": X, "labels": Y}, **VAL}),
        tat.UsageError,
        ["data", "not a string", "Fix"],
    ),
    PyCase(
        "data_arrays_for_a_text_task",
        "python",
        lambda c: c.train_text(with_train()),
        tat.UsageError,
        ["trains on text pairs, not arrays", "Fix:"],
    ),
    PyCase(
        "load_flipped_byte",
        "checkpoint",
        lambda c: tat.load(c.run),
        tat.CheckpointError,
        ["best/model.safetensors", "CRC-32", "Fix:"],
        setup=["flip:{run}/best/model.safetensors"],
    ),
    PyCase(
        "load_config_unparseable",
        "checkpoint",
        lambda c: tat.load(c.run),
        tat.CheckpointError,
        ["best/config.toml", "not valid TOML", "Fix:"],
        setup=["text:{run}/best/config.toml:[task\n", "rechecksum:{run}/best"],
    ),
    PyCase(
        "load_missing_run",
        "checkpoint",
        lambda c: tat.load(c.tmp / "nosuch"),
        tat.CheckpointError,
        ["nosuch", "does not exist", "Fix:"],
    ),
    PyCase(
        "load_precision_unknown",
        "cli",
        lambda c: tat.load(c.run, precision="fp16"),
        tat.UsageError,
        ["`fp16`", "`fp32`", "`bf16`"],
    ),
    PyCase(
        "load_device_unknown",
        "cli",
        lambda c: tat.load(c.run, device="tpu"),
        tat.UsageError,
        ["`tpu`", "`cpu`", "`cuda`"],
    ),
    PyCase(
        "load_negative_threads",
        "cli",
        lambda c: tat.load(c.run, threads=-1),
        tat.UsageError,
        ["threads", "Fix"],
    ),
    PyCase(
        "evaluate_unknown_split",
        "cli",
        lambda c: tat.Model.load(c.run).evaluate(split="validation"),
        tat.UsageError,
        ["`validation`", "train, val or test"],
    ),
    PyCase(
        "generate_negative_max_new_tokens",
        "cli",
        lambda c: tat.Model.load(c.run).generate("hi", max_new_tokens=-1),
        tat.UsageError,
        ["max_new_tokens", "Fix"],
    ),
    PyCase(
        "generate_beam_larger_than_vocabulary",
        "cli",
        lambda c: tat.Model.load(c.run).generate("hi", beam=100_000),
        tat.UsageError,
        ["beam", "Fix"],
    ),
]


@pytest.mark.parametrize("py_case", PY_CASES, ids=[c.name for c in PY_CASES])
def test_bad_python_input(py_case: PyCase, tiny_run: tat.Run, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if py_case.defect:
        if not RUN_DEFECTS:
            pytest.skip(f"defect: {py_case.defect}")
        request.applymarker(pytest.mark.xfail(reason=py_case.defect, strict=True))
    run = tiny_run.run_dir
    if py_case.setup:
        run = tmp_path / "run"
        shutil.copytree(tiny_run.run_dir, run)
        for recipe in py_case.setup:
            apply(fill(recipe, {"run": str(run), "tmp": str(tmp_path)}))
        (run.parent / "tiny.toml").write_text((tiny_run.run_dir.parent / "tiny.toml").read_text())
    try:
        py_case.call(Context(tmp_path, run))
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a pyo3 PanicException is a BaseException
        caught = error
    else:
        pytest.fail("no error raised")
    assert isinstance(caught, py_case.error), f"{type(caught).__module__}.{type(caught).__name__}: {caught}"
    check_output(str(caught), py_case.words, DEFAULT_MAX_OUTPUT)
    if isinstance(caught, tat.TatError):
        assert caught.exit_code in (2, 3), caught.exit_code
