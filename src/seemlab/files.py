"""Atomic file writes, the one way seemlab writes a file that another process may read.

A file is written to a temporary name next to its path, flushed to disk, then renamed over the
path, so a reader sees the old file or the new one, never half of one. Used by the run cache
(:mod:`seemlab.runs.cache`), the scorecard and the book's timings. No heavy imports: the book
driver uses it without loading torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def write_atomic(path: Path, write: Callable) -> None:
    """``write(f)`` into a temporary file next to ``path``, then rename it over ``path``.

    A failure midway removes the temporary file and keeps the previous ``path``; an ``OSError``
    (disk full, permissions) is raised again with the path in its message.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the rename must not land before the bytes (power loss)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, f"could not write {path} ({err.strerror or err}); "
                                 f"the previous file, if any, is kept") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """``text`` (UTF-8) to ``path`` atomically."""
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))
