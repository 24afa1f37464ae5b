"""Output files are whole or absent (`tiny_agent_trainer._files`): an interrupted or failed write
leaves the previous file as it was and no temporary file beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tiny_agent_trainer as tat
from tiny_agent_trainer._files import atomic_output, write_text
from tiny_agent_trainer.tasks.agent import game


def test_a_complete_write_replaces_the_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old\n")
    write_text(out, "new\n")
    assert out.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.parametrize("failure", [RuntimeError("a bug"), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_the_previous_file(tmp_path: Path, failure: BaseException) -> None:
    out = tmp_path / "episode.gif"
    out.write_bytes(b"previous")
    with pytest.raises(type(failure)), atomic_output(out) as tmp:
        tmp.write_bytes(b"half a pic")
        raise failure
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode.gif"]


def test_a_missing_folder_names_the_file_and_the_fix(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "scenes.json"
    with pytest.raises(tat.FileError, match=r"scenes\.json: .*Fix: write the scene list into an existing"):
        game.save_scenes(game.make_scenes(2, 0).scenes(), out)
    assert not (tmp_path / "no").exists()


def test_writers_that_pick_the_format_by_suffix_still_do(tmp_path: Path) -> None:
    out = tmp_path / "frame.gif"
    picture = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    with atomic_output(out, "GIF") as tmp:
        picture.save(tmp)
    assert Image.open(out).format == "GIF"


def test_a_killed_writer_leaves_no_partial_output(tmp_path: Path) -> None:
    """A process killed in the middle of writing (here: between two chunks of a scene list) leaves
    neither the output file nor anything under its name."""
    out = tmp_path / "scenes.json"
    started = tmp_path / "started"
    # Ctrl-C as a user's terminal sends it (a background job starts with SIGINT ignored).
    program = f"""
import signal
import time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)
from tiny_agent_trainer._files import atomic_output
with atomic_output({str(out)!r}) as tmp:
    with open(tmp, "w") as f:
        f.write("[\\n")
        f.flush()
        Path({str(started)!r}).touch()
        time.sleep(60)
        f.write("]\\n")
"""
    child = subprocess.Popen([sys.executable, "-c", program])
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert child.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGINT)
        assert child.wait(timeout=30) != 0
    finally:
        child.kill()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["started"], "Ctrl-C removes the temporary file"
