"""Fault injection on tiny runs (the ``cache`` fixture of tests/conftest.py: an in-memory dataset
and a fresh cache folder), and ways to damage files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seemlab import runs
from seemlab.diagnostics import DiagnosticsConfig
from seemlab.rl.td3 import preset

TD3 = preset("td3_bc", steps=30, batch_size=8, critic_width=8, actor_width=8, tau=1.0, bc_weight=0.0)
DIAG = DiagnosticsConfig(probe_size=12, every=10, dense_every=5, dense_until=10)
EVERY = 10
"""Checkpoint interval of the kill tests: checkpoints at steps 10 and 20 of 30."""


def tiny_cfg(seed: int = 0, **td3) -> runs.RunConfig:
    return runs.RunConfig(dataset="local:synthetic", seed=seed, agent=TD3.replace(**td3), diagnostics=DIAG,
                          eval_episodes=0)


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def zeroed(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


DAMAGES = [truncated, zeroed, random_bytes]


def assert_identical(a: runs.RunResult, b: runs.RunResult) -> None:
    """Same logs (keys, dtypes, values) and final Q1 weights, bit for bit."""
    assert a.logs.keys() == b.logs.keys()
    for k in a.logs:
        assert a.logs[k].dtype == b.logs[k].dtype, k
        np.testing.assert_array_equal(a.logs[k], b.logs[k], err_msg=k)
    assert a.q1_final.keys() == b.q1_final.keys()
    for k in a.q1_final:
        np.testing.assert_array_equal(a.q1_final[k], b.q1_final[k], err_msg=k)


def moved_aside(folder: Path, name: str) -> list[Path]:
    """The ``<name>.corrupt-<time>`` files in ``folder``."""
    return sorted(folder.glob(f"{name}.corrupt-*"))


def one_line(record) -> str:
    text = str(record.message)
    assert "\n" not in text, text
    return text
