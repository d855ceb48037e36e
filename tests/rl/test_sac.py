"""seemlab.rl.sac (online SAC on the SAC trainer of seemlab.rl.soft_actor_critic): the loop, its
seeding, CleanRL's update schedule in the trainer, evaluation, the acting policies, validation."""

import math

import numpy as np
import pytest
import torch

from seemlab.envs import flat_obs
from seemlab.rl.base import Batch
from seemlab.rl.sac import EVAL_FIELDS, SACConfig, cache_config, policy_fn, train, trainer_config
from seemlab.rl.soft_actor_critic import SAC, SACOfflineConfig

TINY = dict(total_steps=110, learning_starts=100, batch_size=16, width=16)


def actor_params(run) -> torch.Tensor:
    return run.trainer.actor.flat(0)


def test_tiny_run_reaches_updates_with_finite_logs():
    logs = []
    run = train(SACConfig(env_id="Hopper-v5", **TINY), callback=lambda s, m: logs.append((s, m)))
    assert run.buffer.size == 110 and run.step == 110 and run.trainer.step == 10
    assert [s for s, _ in logs] == list(range(100, 110))
    assert all({"critic_loss", "q1_batch"} <= set(m) for _, m in logs)
    # policy_frequency 2: the actor steps at updates 2, 4, ... (env steps 101, 103, ...)
    assert [s for s, m in logs if "actor_loss" in m] == list(range(101, 110, 2))
    assert all(np.isfinite(v) for _, m in logs for v in m.values())
    assert run.buffer.observations.shape == (110, 11) and run.buffer.actions.shape == (110, 3)
    assert np.abs(run.buffer.actions).max() <= 1.0


def test_callback_stops_the_run():
    run = train(SACConfig(env_id="Hopper-v5", **TINY), callback=lambda s, m: s == 103)
    assert run.trainer.step == 4 and run.step == 104


def test_same_seed_same_run_and_another_seed_differs():
    a = train(SACConfig(env_id="Hopper-v5", seed=1, **TINY))
    b = train(SACConfig(env_id="Hopper-v5", seed=1, **TINY))
    c = train(SACConfig(env_id="Hopper-v5", seed=2, **TINY))
    assert np.array_equal(a.buffer.observations, b.buffer.observations) and a.episode_returns == b.episode_returns
    assert torch.equal(actor_params(a), actor_params(b))
    assert not np.array_equal(a.buffer.observations, c.buffer.observations)
    assert not torch.equal(actor_params(a), actor_params(c))


def test_dict_observations_are_flattened():
    obs = {"observation": np.arange(3.0), "achieved_goal": np.array([5.0, 6.0]),
           "desired_goal": np.array([7.0, 8.0])}
    assert flat_obs(obs).tolist() == [0, 1, 2, 5, 6, 7, 8]  # the state, its x, y, the goal


# ---------------------------------------------------------------------------- the schedule in the trainer
def test_trainer_config_maps_every_field_and_sets_cleanrls_schedule():
    cfg = SACConfig(tau=1.0, q_lr=2e-3, policy_lr=5e-4, policy_frequency=3, target_frequency=4, alpha=0.3,
                    autotune=False, width=32, critic_norm="layer", gamma=0.9, batch_size=64)
    t = trainer_config(cfg)
    assert (t.tau, t.critic_lr, t.actor_lr, t.policy_frequency, t.target_frequency) == (1.0, 2e-3, 5e-4, 3, 4)
    assert (t.init_alpha, t.autotune_alpha, t.critic_width, t.actor_width, t.critic_norm) == (0.3, False, 32, 32, "layer")
    assert (t.gamma, t.batch_size, t.critic_depth, t.actor_depth) == (0.9, 64, 2, 2)
    assert t.critic_first and t.alpha_loss == "exp" and t.backup_entropy


def tiny_trainer(**changes) -> SAC:
    cfg = SACOfflineConfig(critic_width=8, actor_width=8, critic_first=True, **changes)
    return SAC(cfg, 3, 2, -torch.ones(2), torch.ones(2), [0])


def tiny_batch(B: int = 8) -> Batch:
    g = torch.Generator().manual_seed(0)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    return Batch(r(1, B, 3), torch.rand(1, B, 2, generator=g) * 2 - 1, r(1, B), r(1, B, 3), torch.zeros(1, B))


def test_delayed_actor_steps_k_times_every_kth_update_and_target_every_nth():
    trainer, batch = tiny_trainer(policy_frequency=2, target_frequency=3, tau=1.0), tiny_batch()
    actor_steps, target_moves = [], []
    for _ in range(6):
        actor, target = trainer.actor.flat(0).clone(), trainer.critic_target.flat(0).clone()
        metrics = trainer.update(batch)
        actor_steps.append(int(trainer.optimizers["actor"].state[trainer.actor.stacked[0]].get("step", 0)))
        target_moves.append(not torch.equal(target, trainer.critic_target.flat(0)))
        assert ("actor_loss" in metrics) == (not torch.equal(actor, trainer.actor.flat(0)))
    assert actor_steps == [0, 2, 2, 4, 4, 6]  # two Adam steps at once, every second update
    assert target_moves == [False, False, True, False, False, True]
    assert torch.equal(trainer.critic_target.flat(0), trainer.critic.flat(0))  # τ = 1 copies


def test_actor_steps_on_the_updated_critic():
    """critic_first: L_π's gradient is taken after the critic's Adam step, on the same ã."""
    trainer, batch = tiny_trainer(), tiny_batch()
    reference = tiny_trainer()
    reference.update(batch)  # one full update: critic step, then actor step
    trainer.optimizers["critic"].zero_grad()
    with torch.no_grad():
        stats, next_stats = trainer.policy_stats(batch.obs), trainer.policy_stats(batch.next_obs)
    trainer.critic_loss(batch, stats, next_stats)[0].backward()
    trainer.optimizers["critic"].step()
    trainer.optimizers["actor"].zero_grad()
    trainer.actor_loss(batch.obs, trainer.policy_stats(batch.obs))[0].backward()
    trainer.optimizers["actor"].step()
    assert torch.equal(trainer.actor.flat(0), reference.actor.flat(0))
    assert torch.equal(trainer.critic.flat(0), reference.critic.flat(0))


def test_exp_alpha_loss_scales_the_log_alpha_gradient_by_alpha():
    grads = {}
    for form in ("log", "exp"):
        trainer, batch = tiny_trainer(alpha_loss=form, init_alpha=0.5), tiny_batch()
        trainer.actor_loss(batch.obs, trainer.policy_stats(batch.obs))[0].backward()
        grads[form] = trainer.scalars["log_alpha"].grad.clone()
    assert torch.allclose(grads["exp"], 0.5 * grads["log"]) and grads["log"].abs().item() > 0


def test_a_delayed_actor_needs_critic_first():
    with pytest.raises(ValueError, match="policy_frequency = 2 needs critic_first"):
        SACOfflineConfig(policy_frequency=2)
    with pytest.raises(ValueError, match="alpha_loss"):
        SACOfflineConfig(alpha_loss="squared")


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize("field, value", [("tau", 0.0), ("total_steps", 0), ("batch_size", 0), ("alpha", 0.0)])
def test_bad_config_is_an_error(field, value):
    with pytest.raises(ValueError, match=field):
        train(SACConfig(env_id="Hopper-v5", **{**TINY, field: value}))


@pytest.mark.parametrize("field, value", [("eval_every", -1), ("eval_episodes", 0)])
def test_bad_evaluation_config_is_an_error(field, value):
    with pytest.raises(ValueError, match=field):
        train(SACConfig(env_id="Hopper-v5", **{**TINY, field: value}))


# ---------------------------------------------------------------------------- evaluation and policies
def test_evaluation_is_seeded_deterministic_and_leaves_training_unchanged():
    plain = train(SACConfig(env_id="Hopper-v5", seed=2, **TINY))
    cfg = SACConfig(env_id="Hopper-v5", seed=2, eval_every=50, eval_episodes=2, **TINY)
    a, b = train(cfg), train(cfg)
    assert plain.eval_returns == []
    assert [step for step, _ in a.eval_returns] == [50, 100]
    assert all(np.isfinite(r) for _, r in a.eval_returns)
    assert a.eval_returns == b.eval_returns  # seeded episodes, deterministic policy
    assert np.array_equal(a.buffer.observations, plain.buffer.observations)  # no training RNG used
    assert torch.equal(actor_params(a), actor_params(plain))


def test_policy_fn_samples_in_the_box_reproducibly_and_its_deterministic_form_is_the_mean():
    run = train(SACConfig(env_id="Hopper-v5", **TINY))
    obs = run.buffer.observations[5]
    sampled = [policy_fn(run.trainer, torch.Generator().manual_seed(7))(obs) for _ in range(2)]
    assert sampled[0].shape == (3,) and np.array_equal(sampled[0], sampled[1]) and np.abs(sampled[0]).max() <= 1
    other = policy_fn(run.trainer, torch.Generator().manual_seed(8))(obs)
    assert not np.array_equal(sampled[0], other)
    mean = policy_fn(run.trainer, torch.Generator(), deterministic=True)(obs)
    mu = run.trainer.actor(torch.as_tensor(obs).view(1, 1, -1))[0, 0, :3]
    np.testing.assert_allclose(mean, torch.tanh(mu).detach().numpy(), rtol=1e-6)
    assert math.isfinite(float(np.sum(mean)))


def test_cache_config_omits_evaluation_only_when_off():
    off = cache_config(SACConfig(env_id="Hopper-v5", **TINY))
    assert not set(EVAL_FIELDS) & set(off)
    on = cache_config(SACConfig(env_id="Hopper-v5", eval_every=50, **TINY))
    assert on["eval_every"] == 50 and on["eval_episodes"] == 10


def test_r_sac_evaluates_at_full_only_and_sac_run_caches_evaluations(tmp_path, monkeypatch):
    from seemlab import runs

    assert all(c.eval_every == 0 for c in runs.r_sac("quick").values())
    assert all(c.eval_every == 5_000 and c.eval_episodes == 10 for c in runs.r_sac("full").values())
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    cfg = SACConfig(env_id="Hopper-v5", eval_every=50, eval_episodes=1, **TINY)
    trained, cached = runs.sac_run(cfg, log_every=5), runs.sac_run(cfg, log_every=5)
    assert trained.evals.shape == (2, 2) and np.array_equal(trained.evals, cached.evals)
    assert cached.final_eval_return() == pytest.approx(trained.evals[:, 1].mean())
    plain = runs.sac_run(SACConfig(env_id="Hopper-v5", **TINY), log_every=5)
    assert plain.evals.shape == (0, 2) and np.isnan(plain.final_eval_return())
