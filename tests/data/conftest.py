"""Tiny datasets the data tests make for themselves (seeded), and an isolated data folder."""

from __future__ import annotations

import numpy as np
import pytest

from seemlab.data.dataset import RawTransitions


def make_raw(n: int = 50, d_s: int = 3, d_a: int = 2, seed: int = 0) -> RawTransitions:
    """N random transitions with bounds [-1, 1]^d_a; every 10th step is terminal."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(2.0, 3.0, (n, d_s))
    return RawTransitions(
        observations=obs, actions=rng.uniform(-1, 1, (n, d_a)), rewards=rng.normal(size=n),
        next_observations=obs + 0.1, terminals=(np.arange(n) % 10 == 9).astype(np.float32),
        timeouts=np.zeros(n, np.float32), action_low=-np.ones(d_a), action_high=np.ones(d_a),
        reference=None, env_id=None, source="test")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """``$SEEMLAB_DATA_DIR`` and ``$MINARI_DATASETS_PATH`` point into tmp_path; network off."""
    monkeypatch.setenv("SEEMLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "data"


@pytest.fixture
def raw():
    """The factory ``make_raw(n=50, d_s=3, d_a=2, seed=0)``."""
    return make_raw
