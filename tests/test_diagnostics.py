"""seemlab.diagnostics: cadence, one log, divergence detection, similarities."""

import math

import numpy as np
import pytest
import torch

from seemlab import diagnostics as dg
from seemlab.nets import MLP
from seemlab.rl.base import train
from seemlab.rl.td3 import make_trainer, preset
from seemlab.seem import seem
from synthetic import tiny_dataset

CFG = dg.DiagnosticsConfig(probe_size=16, every=10, dense_every=2, dense_until=6)


def test_cadence_is_dense_early_then_sparse_and_includes_both_ends():
    steps = [t for t in range(0, 35) if CFG.is_log_step(t, 34)]
    assert steps == [0, 2, 4, 6, 10, 20, 30, 34]


@pytest.mark.parametrize("changes", [dict(scale="medium"), dict(stop_on="sometimes"), dict(probe_size=0)])
def test_bad_config_raises(changes):
    with pytest.raises(ValueError):
        dg.DiagnosticsConfig(**changes)


def test_thresholds_follow_the_spec():
    assert dg.divergence_threshold("full", 0.99, 5.0) == 1e6
    assert dg.divergence_threshold("quick", 0.99, 0.0) == pytest.approx(100 / 0.01)  # floor r_max at 1
    assert dg.divergence_threshold("quick", 0.9, 3.0) == pytest.approx(300 / 0.1)


def test_one_log_matches_seem_and_records_every_quantity():
    data = tiny_dataset()
    agent = make_trainer(preset("td3_bc", steps=4, batch_size=8, critic_width=8, actor_width=8), data, [0])
    diag = dg.Diagnostics(CFG, data, 0.9, seed=0, total_steps=4)
    assert diag.s.shape == (16, 4) and diag.a.shape == (16, 2)
    q1, policy = agent.q1_member(0), agent.policy_member(0)
    assert diag.log(0, q1, policy, {"critic_grad_norm": 1.0}) is False
    rec = diag.records[0]
    X = torch.cat([diag.s, diag.a], 1)
    X_star = torch.cat([diag.s2, policy(diag.s2)], 1)
    ref = seem(q1, X, X_star, 0.9)
    assert rec["seem_raw"] == pytest.approx(ref.raw, rel=1e-4) and rec["seem_norm"] == pytest.approx(ref.normalized, rel=1e-4)
    assert -1 <= rec["seem_norm"] <= 1 and rec["seem_code"] == pytest.approx(ref.raw / ref.n_params, rel=1e-4)
    assert 0 <= rec["act_ratio"] <= 1 and 0 <= rec["act_ratio_data"] <= 1
    assert rec["param_norm"] == pytest.approx(float(torch.cat([p.detach().reshape(-1) for p in q1.parameters()]).norm()), rel=1e-5)
    assert rec["critic_grad_norm"] == 1.0


def test_similarities_are_one_at_the_last_log_and_bounded():
    data = tiny_dataset()
    cfg = preset("td3_bc", steps=20, batch_size=8, critic_width=8, actor_width=8)
    diag = dg.Diagnostics(CFG, data, cfg.gamma, seed=0, total_steps=cfg.steps)
    train(cfg, data, [0], callback=dg.DiagnosticsCallback([diag]))
    diag_logs = diag.finalize()
    assert list(diag_logs["step"]) == [0, 2, 4, 6, 10, 20]
    for key in ("ntk_sim", "ntk_sim_normalized", "action_sim", "param_sim"):
        assert diag_logs[key].shape == (6,) and diag_logs[key][-1] == pytest.approx(1.0)
        assert np.all(np.abs(diag_logs[key]) <= 1 + 1e-9)


class _Exploding(torch.nn.Module):
    """A critic whose output is huge, then non-finite."""

    def __init__(self, value):
        super().__init__()
        self.net, self.value = MLP(6, 1, 4, seed=0), value

    def forward(self, x):
        return self.net(x) * 0 + self.value


def test_divergence_is_recorded_and_nonfinite_stops_cleanly():
    data = tiny_dataset()
    diag = dg.Diagnostics(dg.DiagnosticsConfig(probe_size=8, seem=False), data, 0.99, seed=0, total_steps=10)
    policy = lambda s: torch.zeros(len(s), 2)  # noqa: E731
    assert diag.log(0, _Exploding(1.0), policy) is False
    assert diag.log(1, _Exploding(1e9), policy) is False and diag.diverged_step == 1
    assert diag.log(2, _Exploding(math.nan), policy) is True
    assert diag.stopped_step == 2 and diag.stop_reason == "non-finite values"
    assert len(diag.records) == 2 and not diag.wants(3)


def test_quick_threshold_scales_with_the_largest_absolute_reward():
    data = tiny_dataset(rewards=-500 - torch.rand(300))  # every reward negative
    diag = dg.Diagnostics(dg.DiagnosticsConfig(probe_size=8, seem=False), data, 0.99, seed=0, total_steps=10)
    assert diag.threshold == pytest.approx(100 * float(data.rewards.abs().max()) / 0.01)
    policy = lambda s: torch.zeros(len(s), 2)  # noqa: E731
    assert diag.log(0, _Exploding(-500 / 0.01), policy) is False  # Q at the reward scale is no divergence
    assert diag.diverged_step is None
