"""The wheel as a user gets it: `maturin build --release`, then `pip install` into a new virtual
environment that holds only torch 2.11.0 and the wheel's dependencies, then the README snippet.

Slow (a release build and a pip install of torch, from pip's cache when warm): `make test` runs
it, the default `pytest` selection does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import numpy as np
    import tiny_agent_trainer as tat

    folder = Path(sys.argv[1])
    assert Path(tat.__file__).is_relative_to(Path(sys.prefix)), tat.__file__  # the installed copy

    diagnostics = tat.validate_wgsl("fn f() -> f32 {\\n    return 1.0 +;\\n}")
    assert diagnostics and diagnostics[0].line == 2, diagnostics

    epochs = []
    config = tat.Config.from_toml(folder / "tiny.toml")
    run = tat.train(config, on_epoch=epochs.append)
    assert len(epochs) == 2 and isinstance(run.metrics["train_loss"], np.ndarray), run

    model = tat.load(run.run_dir / "best")
    one = model.generate("Create a red color", max_new_tokens=8)
    many = model.generate(["Create a red color", "Normalize a vector"], beam=4, max_new_tokens=8)
    assert isinstance(one, str) and isinstance(many, list) and len(many) == 2, (one, many)
    try:
        tat.load(folder / "missing")
    except tat.CheckpointError as e:
        assert "does not exist" in str(e), e
    else:
        raise AssertionError("a missing checkpoint must raise CheckpointError")
    print("wheel ok:", repr(one))
    """
)


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_readme_snippet(tmp_path: Path) -> None:
    from test_api import write_tiny_config

    wheels = tmp_path / "wheels"
    env = {**os.environ}
    subprocess.run(
        [sys.executable, "-m", "maturin", "build", "--release", "--quiet", "--out", str(wheels)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    (wheel,) = wheels.glob("tiny_agent_trainer-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # A clean environment: nothing from the project's venv leaks in.
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "LIBTORCH_USE_PYTORCH")}
    clean["PATH"] = f"{venv / 'bin'}:{clean.get('PATH', '')}"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "torch==2.11.0", str(wheel)],
        env=clean,
        check=True,
    )

    config = write_tiny_config(tmp_path / "work", epochs=2)
    done = subprocess.run(
        [str(python), "-c", SNIPPET, str(config.parent)],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wheel ok:" in done.stdout
