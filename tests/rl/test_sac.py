import numpy as np
import pytest
import torch

from seemlab.rl.sac import EVAL_FIELDS, SACConfig, TwinCritic, cache_config, soft_update, train
from seemlab.envs import flat_obs

TINY = dict(total_steps=110, learning_starts=100, batch_size=16, width=16)


def test_tiny_run_reaches_updates_with_finite_logs():
    logs = []
    result = train(SACConfig(env_id="Hopper-v5", **TINY), callback=lambda s, l: logs.append(l))
    assert result.buffer.size == 110
    assert len(logs) == 10 and {"q_loss", "q1"} <= set(logs[0])
    assert any("actor_loss" in entry for entry in logs)
    assert all(np.isfinite(v) for entry in logs for v in entry.values())
    assert result.buffer.observations.shape == (110, 11) and result.buffer.actions.shape == (110, 3)
    assert np.abs(result.buffer.actions).max() <= 1.0


def test_same_seed_same_run():
    a = train(SACConfig(env_id="Hopper-v5", seed=1, **TINY))
    b = train(SACConfig(env_id="Hopper-v5", seed=1, **TINY))
    assert np.array_equal(a.buffer.observations, b.buffer.observations)
    for p, q in zip(a.agent.actor.parameters(), b.agent.actor.parameters()):
        assert torch.equal(p, q)


def test_dict_observations_are_flattened():
    obs = {"observation": np.arange(3.0), "achieved_goal": np.zeros(2),
           "desired_goal": np.array([7.0, 8.0])}
    assert flat_obs(obs).tolist() == [0, 1, 2, 7, 8]


def test_soft_update_tau_one_copies_and_small_tau_moves_a_little():
    online, target = TwinCritic(3, 2, 8, "layer", seed=0), TwinCritic(3, 2, 8, "layer", seed=5)
    before = [p.clone() for p in target.parameters()]
    soft_update(target, online, 0.1)
    for b, t, o in zip(before, target.parameters(), online.parameters()):
        assert torch.allclose(t, 0.9 * b + 0.1 * o)
    soft_update(target, online, 1.0)
    assert all(torch.equal(t, o) for t, o in zip(target.parameters(), online.parameters()))


@pytest.mark.parametrize("field, value", [("tau", 0.0), ("total_steps", 0), ("batch_size", 0)])
def test_bad_config_is_an_error(field, value):
    with pytest.raises(ValueError, match=field):
        train(SACConfig(env_id="Hopper-v5", **{**TINY, field: value}))


def test_evaluation_is_seeded_deterministic_and_leaves_training_unchanged():
    plain = train(SACConfig(env_id="Hopper-v5", seed=2, **TINY))
    cfg = SACConfig(env_id="Hopper-v5", seed=2, eval_every=50, eval_episodes=2, **TINY)
    a, b = train(cfg), train(cfg)
    assert plain.eval_returns == []
    assert [step for step, _ in a.eval_returns] == [50, 100]
    assert all(np.isfinite(r) for _, r in a.eval_returns)
    assert a.eval_returns == b.eval_returns  # seeded episodes, deterministic policy
    assert np.array_equal(a.buffer.observations, plain.buffer.observations)  # no training RNG used
    for p, q in zip(a.agent.actor.parameters(), plain.agent.actor.parameters()):
        assert torch.equal(p, q)


def test_cache_config_omits_evaluation_only_when_off():
    off = cache_config(SACConfig(env_id="Hopper-v5", **TINY))
    assert not set(EVAL_FIELDS) & set(off)  # keys of runs cached before evaluation existed
    on = cache_config(SACConfig(env_id="Hopper-v5", eval_every=50, **TINY))
    assert on["eval_every"] == 50 and on["eval_episodes"] == 10


@pytest.mark.parametrize("field, value", [("eval_every", -1), ("eval_episodes", 0)])
def test_bad_evaluation_config_is_an_error(field, value):
    with pytest.raises(ValueError, match=field):
        train(SACConfig(env_id="Hopper-v5", **{**TINY, field: value}))


def test_r_sac_evaluates_at_full_only_and_sac_run_caches_evaluations(tmp_path, monkeypatch):
    from seemlab import runs

    assert all(c.eval_every == 0 for c in runs.r_sac("quick").values())  # QUICK cache keys unchanged
    assert all(c.eval_every == 5_000 and c.eval_episodes == 10 for c in runs.r_sac("full").values())
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    cfg = SACConfig(env_id="Hopper-v5", eval_every=50, eval_episodes=1, **TINY)
    trained, cached = runs.sac_run(cfg, log_every=5), runs.sac_run(cfg, log_every=5)
    assert trained.evals.shape == (2, 2) and np.array_equal(trained.evals, cached.evals)
    assert cached.final_eval_return() == pytest.approx(trained.evals[:, 1].mean())
    plain = runs.sac_run(SACConfig(env_id="Hopper-v5", **TINY), log_every=5)
    assert plain.evals.shape == (0, 2) and np.isnan(plain.final_eval_return())
