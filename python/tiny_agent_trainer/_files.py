"""Output files that are whole or absent: what the tool writes goes into `<name>.tmp` beside the
file and is renamed over it when complete, so an interrupted or failed write (Ctrl-C, a kill, a
full disk) never leaves half a report, picture or scene list under the name a user asked for."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ._core import FileError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], what: str = "file") -> Iterator[Path]:
    """Yields the temporary path to write; on success it replaces `path`, on any failure (an
    exception, `KeyboardInterrupt` included) it is removed and `path` is left as it was. An
    `OSError` becomes a `FileError` naming `path` and the fix."""
    path = Path(path)
    # The suffix is kept last so that writers that pick a format by it (PIL, matplotlib) still do.
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise FileError(
            f"{path}: {e.strerror or e}. Fix: write the {what} into an existing, writable folder with "
            "space left; the previous file, if any, is unchanged."
        ) from None
    except BaseException:
        _remove(tmp)
        raise


def write_text(path: str | os.PathLike[str], text: str, what: str = "file") -> Path:
    """Writes `text` (UTF-8) to `path` whole or not at all (`atomic_output`)."""
    with atomic_output(path, what) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()
