"""The run cache's files: where they live, checksummed atomic writes, bad files moved aside, locks.

Every cached file (run results, SAC results, checkpoints, data cards) is written by
:func:`write_checked`: one header line ``seemlab-checked-v1 sha256=<64 hex> bytes=<n>`` and then
the payload, written to a temporary file in the same folder and renamed over the target, so a
reader sees the old file or the new one, never half of one; a write that fails midway (disk full)
leaves the previous file in place. :func:`load_checked` verifies the header and parses the
payload; a file that fails either is moved aside to ``<name>.corrupt-<UTC time>`` with one
:class:`CacheWarning`, and the caller redoes the work. A file without the header (written before
checksums existed) is legacy: it is accepted when its payload parses.

:class:`Lock` serialises the processes that would write the same files. It is an advisory
``flock`` on a lock file that names its holder as JSON (pid, host, since): the kernel drops the
lock when its holder dies, so a lock left by a killed process (empty, unreadable or naming a dead
pid) is taken over at once, with a warning naming what was left. A waiter warns whom it waits for
every ``report_every`` seconds and gives up after ``wait`` seconds with :class:`LockTimeout`.
POSIX only (``fcntl``).
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import pickle
import socket
import time
import warnings
import zipfile
from pathlib import Path
from typing import Callable, TypeVar

from seemlab.files import write_atomic

CACHE_ENV = "SEEMLAB_CACHE_DIR"
MAGIC = b"seemlab-checked-v1"
T = TypeVar("T")


class CacheWarning(UserWarning):
    """A cached file was bad and moved aside, or a lock was taken over or is being waited for."""


class CorruptFileError(ValueError):
    """A cached file fails its checksum."""


class LockTimeout(TimeoutError):
    """A lock was still held by another process after the allowed wait."""


def cache_dir() -> Path:
    """``$SEEMLAB_CACHE_DIR``, else ``<repo>/_cache`` (else ``./_cache``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    repo = Path(__file__).resolve().parents[3]
    return repo / "_cache" if (repo / "pyproject.toml").exists() else Path.cwd() / "_cache"


def _digest(payload: dict) -> str:
    """20 hex of the SHA-256 of ``payload``'s canonical JSON: the run caches' keys."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


# ============================================================================ checksummed files
def write_checked(path: Path, payload: bytes) -> None:
    """Write the header line and ``payload`` to ``path`` atomically."""
    header = b"%s sha256=%s bytes=%d\n" % (MAGIC, hashlib.sha256(payload).hexdigest().encode(), len(payload))
    write_atomic(path, lambda f: (f.write(header), f.write(payload)))


def read_checked(path: Path) -> bytes:
    """The payload of ``path``; a legacy file (no header) is returned whole.

    Raises:
        CorruptFileError: the header is malformed, or the size or SHA-256 do not match.
    """
    raw = Path(path).read_bytes()
    if not raw.startswith(MAGIC):
        return raw
    header, _, payload = raw.partition(b"\n")
    fields = dict(part.split(b"=", 1) for part in header.split()[1:] if b"=" in part)
    if fields.get(b"bytes") != str(len(payload)).encode():
        raise CorruptFileError(f"{path}: {len(payload)} bytes, the header says {fields.get(b'bytes', b'?').decode()}")
    if fields.get(b"sha256") != hashlib.sha256(payload).hexdigest().encode():
        raise CorruptFileError(f"{path}: SHA-256 of the contents does not match its header")
    return payload


# What a parser raises on bytes that are not what it expects (torch's weights-only loader raises
# UnpicklingError, numpy BadZipFile/ValueError/EOFError, json ValueError).
_UNPARSABLE = (ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError,
               RuntimeError)


def load_checked(path: Path, parse: Callable[[bytes], T]) -> T | None:
    """``parse`` of ``path``'s payload; None when the file is missing, or bad and moved aside."""
    try:
        payload = read_checked(path)
    except FileNotFoundError:
        return None
    except CorruptFileError as err:
        quarantine(path, str(err).removeprefix(f"{path}: "))
        return None
    try:
        return parse(payload)
    except _UNPARSABLE as err:
        quarantine(path, f"does not parse ({type(err).__name__}: {str(err)[:80]})")
        return None


def quarantine(path: Path, reason: str) -> Path:
    """Move a bad file aside to ``<name>.corrupt-<UTC time>``, with one warning naming both."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another process, reading the same bad file, moved it first
        return target
    warnings.warn(f"{path} {reason}: moved aside to {target.name}; it will be redone", CacheWarning, stacklevel=3)
    return target


# ============================================================================ locks
def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class Lock:
    """An exclusive lock on ``path`` between processes; see the module docstring.

    Args:
        wait: seconds to wait for another holder before :class:`LockTimeout` (None: forever).
        report_every: seconds between the warnings that say whom this process waits for.
    """

    def __init__(self, path: Path, wait: float | None = None, poll: float = 0.2, report_every: float = 30.0):
        if wait is not None and not wait >= 0:
            raise ValueError(f"wait must be None or seconds >= 0, got {wait!r}")
        self.path, self.wait, self.poll, self.report_every = Path(path), wait, poll, report_every
        self._fd: int | None = None

    def __enter__(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        start, reported = time.monotonic(), None
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                reported = self._still_waiting(start, reported)
                time.sleep(self.poll)
                continue
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed the file between our open and flock: lock the new one
        try:
            self._take_over(fd)
        except BaseException:  # an interrupt here must not leave this process holding the lock
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _still_waiting(self, start: float, reported: float | None) -> float | None:
        """Warn whom we wait for every ``report_every`` s; raise LockTimeout past ``wait``."""
        waited = time.monotonic() - start
        if self.wait is not None and waited >= self.wait:
            raise LockTimeout(f"{self.path} is still held by {describe_holder(self.path)} after waiting "
                              f"{self.wait:g} s; rerun later, or remove the file if that process is gone")
        if reported is None or waited - reported >= self.report_every:
            warnings.warn(f"waiting for {self.path}: held by {describe_holder(self.path)}", CacheWarning,
                          stacklevel=4)
            return waited
        return reported

    def _take_over(self, fd: int) -> None:
        """Name ourselves in the lock file, warning when a killed holder left something in it."""
        left = os.pread(fd, 4096, 0)
        age = time.time() - os.fstat(fd).st_mtime
        if left.strip() or age > 1.0:  # a fresh empty file is a racing waiter's, not a dead holder's
            warnings.warn(f"took over {self.path}, left by {_describe(left)} (no longer holding it)",
                          CacheWarning, stacklevel=3)
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still holding it: waiters recheck the inode
            os.close(self._fd)
            self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def describe_holder(path: Path) -> str:
    """Who a lock file names as its holder, in words."""
    try:
        return _describe(Path(path).read_bytes())
    except OSError:
        return "a process that has not named itself yet"


def _describe(content: bytes) -> str:
    if not content.strip():
        return "an empty lock file (its writer was killed before naming itself)"
    try:
        info = json.loads(content)
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return f"an unreadable lock file ({content[:40]!r})"
