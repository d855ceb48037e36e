"""seemlab.diverge: the stand-in TD run wires data, greedy corners and logs correctly."""

import numpy as np
import torch

from seemlab.diverge import DivergeConfig, corners, diverge_critic, greedy_next
from seemlab.nets import MLP


def test_corners():
    c = corners(2)
    assert c.shape == (4, 2) and set(c.abs().reshape(-1).tolist()) == {1.0}


def test_greedy_next_picks_best_corner():
    m = MLP(3, 1, 8, seed=0)
    s2 = torch.randn(5, 1, generator=torch.Generator().manual_seed(0))
    x = greedy_next(m, s2, corners(2))
    assert x.shape == (5, 3)
    with torch.no_grad():
        for row in x:
            all_q = m(torch.cat([row[:1].expand(4, 1), corners(2)], dim=1))
            assert m(row[None]) >= all_q.max() - 1e-6


def test_run_shapes_and_reproducible():
    cfg = DivergeConfig(state_dim=2, action_dim=1, n_data=32, width=8, batch=8, steps=6, log_every=3, probe=8)
    a, b = diverge_critic(cfg), diverge_critic(cfg)
    assert a.steps.tolist() == [0, 3, 6]
    for key in ("q_mean", "param_norm", "seem_normalized", "seem_raw"):
        assert getattr(a, key).shape == (3,)
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert np.all(np.abs(a.seem_normalized) <= 1)
    assert a.stopped_step == 6
    changed = any(not torch.equal(p, q) for p, q in zip(a.model.parameters(), a.init_model.parameters()))
    assert changed


def test_gamma_zero_never_self_excites():
    cfg = DivergeConfig(state_dim=2, action_dim=1, n_data=32, width=8, batch=8, steps=4, log_every=2, probe=8, gamma=0.0)
    run = diverge_critic(cfg)
    assert np.all(run.seem_normalized <= 1e-9) and run.diverged_step is None
