import dataclasses

import numpy as np
import pytest
import torch

from seemlab import theory, toy
from seemlab.nets import EnsembleMLP
from seemlab.toy import nav


def test_data_shapes_and_layouts():
    for cfg in (toy.code_config(seed=3), toy.paper_config(seed=3)):
        d = toy.make_data(cfg)
        assert d.X.shape == (cfg.n_pairs, 4) and d.S_next.shape == (cfg.n_pairs, 2)
        assert d.X.dtype == torch.float64 and torch.all(d.r == 0)
        assert d.all_actions(d.S_next).shape == (8 * cfg.n_pairs, 4)
    code = toy.make_data(toy.code_config())
    assert torch.allclose(code.X[1:, :2], code.S_next[:-1])  # one trajectory
    moves = code.S_next - code.X[:, :2] - 0.1 * code.X[:, 2:]
    assert moves.min() >= 0 and moves.max() < 0.02


def test_bad_config_names_allowed_values():
    with pytest.raises(ValueError, match="allowed values: code, paper"):
        toy.train(toy.code_config(data="maze"))
    with pytest.raises(ValueError, match="share"):
        nav.train_many([toy.code_config(width=8), toy.code_config(width=16)])


@pytest.mark.parametrize("layernorm", [False, True])
@pytest.mark.parametrize("depth", [2, 3])
def test_stacked_forward_equals_mlp(depth, layernorm):
    cfgs = [toy.code_config(seed=s, depth=depth, width=8, layernorm=layernorm) for s in range(2)]
    nets = [toy.make_net(c) for c in cfgs]
    with torch.no_grad():
        for net in nets:  # move LN affines off their init so they are tested too
            for name, p in net.named_parameters():
                if "norm" in name:
                    p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    with torch.no_grad():
        out = EnsembleMLP(nets)(x)
    with torch.no_grad():
        ref = torch.stack([net(x[i]) for i, net in enumerate(nets)])
    assert out.shape == (2, 5) and torch.allclose(out, ref)


def test_batched_runs_equal_single_runs():
    cfgs = [toy.code_config(seed=s, width=16, steps=60, seem_every=20) for s in (0, 1)]
    many = nav.train_many(cfgs)
    one = toy.train(cfgs[1])
    assert np.allclose(many[1].u_norm, one.u_norm, rtol=1e-10, atol=0)  # equal up to summation order
    assert np.allclose(many[1].seem_norm, one.seem_norm)


def test_run_logs_shapes_and_seem_bounds():
    run = toy.train(toy.code_config(width=16, steps=51, seem_every=25, log_appb=True, log_pair=True))
    assert run.steps.shape == run.u_norm.shape == run.mean_q.shape == run.param_norm.shape == (51,)
    assert run.seem_steps.tolist() == [0, 25, 50]
    assert run.appb.shape == (3, 2) and run.ntk_self.shape == (3,)
    assert np.all(np.abs(run.seem_norm) <= 1)
    assert np.all((run.seem_align >= 0) & (run.seem_align <= 1 + 1e-12))


def test_crash_is_recorded_and_logs_are_kept():
    run = toy.train(toy.code_config(seed=3, steps=1000, seem_every=50), keep_model=True)
    assert run.crashed and run.crash_step < 1000
    assert run.u_norm.size == run.crash_step + 1 and not np.isfinite(run.u_norm[-1])
    assert np.all(np.isfinite(run.u_norm[:-1]))
    assert run.diverged_step <= run.crash_step
    assert run.seem_steps.max() < run.crash_step and np.all(np.isfinite(run.seem_norm))


def test_crash_prediction_within_10_percent_on_two_seeds():
    """SPEC Sec 3.2 (calibrated, reproducible at quick): error within 10 % per crashing seed."""
    for run in nav.train_many([toy.code_config(seed=s, steps=3000) for s in (0, 1)]):
        assert run.crashed
        pred = theory.predict_crash(run.steps, run.u_norm, run.crash_step, p=1.0)
        assert abs(pred.rel_error) <= 0.10


def test_theorem1_error_is_first_order():
    cfg = toy.code_config(seed=0, steps=50)
    run = toy.train(cfg, keep_model=True)
    res = toy.one_step_errors(run.model, toy.make_data(cfg), cfg.gamma, [1e-4, 1e-5, 1e-6])
    assert res.greedy_kept.all() and res.errors[1] < 1e-3
    assert 0.8 <= theory.loglog_slope(res.etas, res.errors) <= 1.2


def test_config_is_hashable_data():
    cfg = toy.code_config()
    assert hash(cfg) == hash(dataclasses.replace(cfg)) and cfg == toy.code_config()


def test_linear_prediction_follows_the_convergent_run():
    cfg = toy.code_config(gamma=0.8, width=16, steps=1000)
    res = nav.linear_prediction_errors(cfg, 200, [1, 20])
    assert res.ks.tolist() == [1, 20] and res.greedy_kept.shape == (2,)
    # With the 2η/M scaling the one-step prediction is exact to first order; a wrong scale
    # (η, or η/M) misses the change by a factor of order M/2 or 2.
    assert res.errors[0] < 1e-2 and res.errors[1] < 0.2
    assert (res.errors_vs_u <= res.errors).all()


def test_linear_prediction_rejects_bad_windows():
    with pytest.raises(ValueError, match="ks >= 1"):
        nav.linear_prediction_errors(toy.code_config(), 10, [0])
