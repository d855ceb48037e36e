"""Locks left by killed processes are taken over; a live holder is waited for, named, and bounded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from seemlab import runs
from seemlab.runs.cache import CacheWarning, Lock, LockTimeout

from .conftest import one_line, tiny_cfg

TESTS = Path(__file__).resolve().parents[1]


def lock_path(cfg) -> Path:
    return runs.cache_dir() / "locks" / f"{runs.config_hash(cfg)}.lock"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def left_lock(path: Path, content: bytes, age: float = 10.0) -> None:
    """A lock file as a killed process leaves it, ``age`` seconds old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (time.time() - age, time.time() - age))


@pytest.mark.parametrize("content, named", [
    (b"", "empty lock file"),
    (b"\x00\x17garbage", "unreadable lock file"),
    (None, "pid {pid} on {host}"),
], ids=["empty", "unreadable", "dead-pid"])
def test_lock_left_by_a_killed_process_is_taken_over(cache, content, named):
    pid, host = dead_pid(), socket.gethostname()
    path = lock_path(tiny_cfg())
    left_lock(path, content if content is not None else json.dumps(
        {"pid": pid, "host": host, "since": "2026-01-01 00:00:00 UTC"}).encode())
    start = time.monotonic()
    with pytest.warns(CacheWarning, match="took over") as caught:
        runs.run(tiny_cfg())
    assert time.monotonic() - start < 5.0
    text = one_line(caught[0])
    assert str(path) in text and named.format(pid=pid, host=host) in text
    assert runs.run_path(tiny_cfg()).exists() and not path.exists()


def test_lock_file_of_the_running_holder_names_it(cache):
    path = cache / "locks" / "x.lock"
    with Lock(path):
        info = json.loads(path.read_text())
    assert info["pid"] == os.getpid() and info["host"] == socket.gethostname() and "UTC" in info["since"]
    assert not path.exists()


def test_wait_is_bounded_and_names_the_holder(cache):
    path = lock_path(tiny_cfg())
    with Lock(path):  # a live holder (another open file description: flock blocks us too)
        with pytest.warns(CacheWarning, match="waiting for"), pytest.raises(LockTimeout) as raised:
            runs.run(tiny_cfg(), wait=0.5)
    text = str(raised.value)
    assert str(path) in text and f"pid {os.getpid()} on {socket.gethostname()}" in text and "0.5 s" in text
    assert isinstance(raised.value, TimeoutError) and not runs.run_path(tiny_cfg()).exists()
    runs.run(tiny_cfg(), wait=0.5)  # free again


def test_waiter_says_whom_it_waits_for_periodically(tmp_path):
    path = tmp_path / "x.lock"
    with Lock(path), pytest.warns(CacheWarning) as caught, pytest.raises(LockTimeout):
        with Lock(path, wait=1.0, poll=0.05, report_every=0.3):
            pass
    texts = [one_line(w) for w in caught]
    assert 3 <= len(texts) <= 5, texts
    assert all(f"held by pid {os.getpid()} on {socket.gethostname()} since" in t for t in texts)


def test_bad_wait_is_refused(tmp_path):
    with pytest.raises(ValueError, match="wait"):
        Lock(tmp_path / "x.lock", wait=-1)


RUNNER = textwrap.dedent("""
    import sys, time, warnings
    sys.path.insert(0, {tests!r})
    from seemlab import runs
    from synthetic import tiny_dataset
    from faults.conftest import tiny_cfg
    from pathlib import Path

    runs.load_dataset = lambda spec, fraction=1.0, normalize=True: tiny_dataset()
    runs.dataset_id = lambda spec: f"content of {{spec}}"
    real, started = runs._train_locked, Path(sys.argv[1])

    def train_slowly(*args, **kwargs):
        print("trained", flush=True)
        started.touch()
        time.sleep(2.0)  # long enough for the other process to find the lock held
        real(*args, **kwargs)

    runs._train_locked = train_slowly
    warnings.simplefilter("always")
    result = runs.run(tiny_cfg(seed=8))
    print("q_data", result.logs["q_data"].tolist(), flush=True)
""")


def test_two_processes_running_one_config_train_it_once(cache, tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER.format(tests=str(TESTS)))
    env = {**os.environ, runs.CACHE_ENV: str(cache), "PYTHONPATH": str(TESTS)}
    started = tmp_path / "started"
    first = subprocess.Popen([sys.executable, str(script), str(started)], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    second = subprocess.run([sys.executable, str(script), str(started)], env=env, text=True,
                            capture_output=True, timeout=120)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + second.stderr
    assert out1.count("trained") == 1 and "trained" not in second.stdout, "trained once"
    assert "waiting for" in second.stderr and f"pid {first.pid}" in second.stderr
    q1 = [line for line in out1.splitlines() if line.startswith("q_data")]
    assert q1 and q1 == [line for line in second.stdout.splitlines() if line.startswith("q_data")]
    assert len(list((cache / "runs").glob("*.npz"))) == 1
