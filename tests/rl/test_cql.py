"""seemlab.rl.cql (CQL(H)) and its base seemlab.rl.soft_actor_critic (offline SAC): the gap by hand,
a continuous bandit, seeds alone vs in an ensemble, resume, validation, critic options."""

import dataclasses
import math

import pytest
import torch
from torch.distributions import AffineTransform, Normal, TanhTransform, TransformedDistribution

from seemlab.data.dataset import TransitionDataset
from seemlab.rl import cql, soft_actor_critic
from seemlab.rl.base import Sampler, train
from seemlab.rl.cql import CQLConfig, cql_gap
from seemlab.rl.soft_actor_critic import SACOfflineConfig, tanh_gaussian_sample
from synthetic import tiny_dataset

TINY = dict(steps=12, batch_size=8, critic_width=8, actor_width=8, n_actions=3)


def bandit(n_per_action: int = 64) -> TransitionDataset:
    """One-step continuous bandit: one state, 1-D actions in [−1, 1]; the data holds actions −0.8,
    −0.2 and 0.4 with rewards 0, 0.5 and 1; every transition is terminal."""
    acts = torch.tensor([-0.8, -0.2, 0.4]).repeat_interleave(n_per_action)[:, None]
    rew = torch.tensor([0.0, 0.5, 1.0]).repeat_interleave(n_per_action)
    n, obs = len(rew), torch.zeros(len(rew), 1)
    return TransitionDataset(name="bandit", observations=obs, actions=acts, rewards=rew, next_observations=obs.clone(),
                             terminals=torch.ones(n), timeouts=torch.zeros(n), obs_mean=torch.zeros(1),
                             obs_std=torch.ones(1), action_low=-torch.ones(1), action_high=torch.ones(1))


# ---------------------------------------------------------------------------- the gap and the log-density
def test_cql_gap_by_hand():
    q_data = torch.tensor([1.0, 2.0, 0.0])
    q_sampled = torch.tensor([[0.0, 0.0, math.log(2.0)],  # logsumexp = log 4
                              [0.0, math.log(3.0), math.log(4.0)],  # log 8
                              [1.0, 1.0, 1.0]])  # 1 + log 3
    expected = ((math.log(4) - 1) + (math.log(8) - 2) + (1 + math.log(3) - 0)) / 3
    assert float(cql_gap(q_data, q_sampled)) == pytest.approx(expected, rel=1e-6)
    # temperature T: T·logsumexp(x / T); T = 2 on the last row: 2·log(3·e^0.5) = 1 + 2 log 3
    expected_t2 = ((2 * math.log(2 + math.sqrt(2)) - 1) + (2 * math.log(1 + math.sqrt(3) + 2) - 2)
                   + (1 + 2 * math.log(3))) / 3
    assert float(cql_gap(q_data, q_sampled, temp=2.0)) == pytest.approx(expected_t2, rel=1e-6)
    # the clip acts per state, before the mean: gaps (0.386, 0.079, 2.099) clipped to at most 0.1
    clipped = (0.1 + (math.log(8) - 2) + 0.1) / 3
    assert float(cql_gap(q_data, q_sampled, clip_max=0.1)) == pytest.approx(clipped, rel=1e-6)
    batched = cql_gap(q_data.expand(2, 2, 3), q_sampled.expand(2, 2, 3, 3))
    assert batched.shape == (2, 2) and torch.allclose(batched, torch.full((2, 2), expected))


def test_sampled_q_subtracts_the_log_densities():
    data = tiny_dataset()
    agent = cql.make_trainer(cql.preset("cql", **TINY), data, seeds=[0, 1])
    batch = Sampler(data, [0, 1])(5)
    with torch.no_grad():
        stats, next_stats = agent.policy_stats(batch.obs), agent.policy_stats(batch.next_obs)
        states = [g.get_state() for g in agent.ood_gens]
        x = agent.sampled_q(batch.obs, agent.q(batch.obs, batch.act), stats, next_stats)
        for g, state in zip(agent.ood_gens, states):  # replay the same draws by hand
            g.set_state(state)
        a_u = agent.uniform((5, 3))
        a_next, logp_next = agent.sample(next_stats, 3, agent.ood_gens)
        obs = batch.obs.unsqueeze(2).expand(2, 5, 3, 4).reshape(2, 15, 4)
        q_u = agent.q(obs, a_u.reshape(2, 15, 2)).view(2, 2, 5, 3)
        q_next = agent.q(obs, a_next.reshape(2, 15, 2)).view(2, 2, 5, 3)
    assert x.shape == (2, 2, 5, 9) and a_u.abs().max() <= 1
    assert agent.log_uniform_density == pytest.approx(2 * math.log(0.5))  # U on [−1, 1]²
    torch.testing.assert_close(x[..., :3], q_u - 2 * math.log(0.5))
    torch.testing.assert_close(x[..., 3:6], q_next - logp_next.unsqueeze(1))
    plain = cql.make_trainer(cql.preset("cql", **TINY, importance_sample=False), data, seeds=[0, 1])
    q_data = plain.q(batch.obs, batch.act)
    x_plain = plain.sampled_q(batch.obs, q_data, stats, next_stats)
    assert x_plain.shape == (2, 2, 5, 10) and torch.equal(x_plain[..., -1], q_data)


def test_tanh_gaussian_log_prob_matches_torch_distributions():
    g, f64 = torch.Generator().manual_seed(0), torch.float64
    mean, noise = torch.randn(5, 3, generator=g, dtype=f64), torch.randn(5, 3, generator=g, dtype=f64)
    log_std = torch.rand(5, 3, generator=g, dtype=f64) * 2 - 1.5
    center, scale = torch.tensor([0.0, 1.0, -0.5], dtype=f64), torch.tensor([1.0, 2.0, 0.5], dtype=f64)
    act, logp = tanh_gaussian_sample(mean, log_std, noise, center, scale)
    dist = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform(), AffineTransform(center, scale)])
    assert act.shape == (5, 3) and logp.shape == (5,)
    assert ((act - center).abs() <= scale).all()
    torch.testing.assert_close(logp, dist.log_prob(act).sum(-1), rtol=1e-7, atol=1e-7)


# ---------------------------------------------------------------------------- learning
def test_bandit_policy_finds_the_best_in_support_action():
    """CQL picks the best data action 0.4; without the penalty (α_cql = 0) the critic
    extrapolates and the policy leaves the support."""
    data = bandit()
    cfg = cql.preset("cql", steps=1200, batch_size=32, critic_width=16, actor_width=16, actor_lr=3e-3,
                     critic_lr=1e-3, cql_alpha=1.0)
    action = float(train(cfg, data, seeds=[0]).policy_member(0)(torch.zeros(1, 1)))
    assert action == pytest.approx(0.4, abs=0.1)


def test_cql_without_penalty_is_offline_sac():
    data = tiny_dataset()
    common = dict(TINY, actor_lr=3e-4, backup_entropy=True)
    del common["n_actions"]
    sac_cfg = soft_actor_critic.preset("sac_offline", **common)
    sac = train(sac_cfg, data, seeds=[0], trainer=soft_actor_critic.make_trainer(sac_cfg, data, [0]))
    ours = train(cql.preset("cql", **common, cql_alpha=0.0), data, seeds=[0])
    torch.testing.assert_close(ours.critic.flat(0), sac.critic.flat(0), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ours.actor.flat(0), sac.actor.flat(0), rtol=1e-6, atol=1e-7)
    with pytest.raises(AssertionError):  # the penalty does change the critic
        torch.testing.assert_close(train(cql.preset("cql", **common), data).critic.flat(0), sac.critic.flat(0))


def test_one_update_fills_the_per_seed_info():
    data = tiny_dataset()
    agent = cql.make_trainer(cql.preset("cql", **TINY), data, seeds=[0, 1])
    before = agent.critic.flat(0).clone()
    out = agent.update(Sampler(data, agent.seeds)(8), info=True)
    assert set(out) == {"critic_loss", "actor_loss"} and all(isinstance(v, float) for v in out.values())
    assert set(agent.info) == {"critic_loss", "q1_batch", "critic_grad_norm", "actor_loss", "actor_grad_norm",
                               "alpha", "cql_gap"}
    assert all(v.shape == (2,) and torch.isfinite(v).all() for v in agent.info.values())
    assert agent.step == 1 and not torch.equal(before, agent.critic.flat(0))
    obs = data.observations[:4].expand(2, 4, 4)
    assert agent.policy_member(1)(data.observations[:4]).shape == (4, 2)
    assert agent.q(obs, obs[..., :2]).shape == (2, 2, 4)


def test_seed_gives_the_same_numbers_alone_or_in_an_ensemble():
    data = tiny_dataset()
    for changes in ({}, dict(lagrange=True, max_target_backup=True)):
        cfg = cql.preset("cql", **TINY, **changes)
        alone, together = train(cfg, data, seeds=[1]), train(cfg, data, seeds=[0, 1, 2])
        for c in range(2):
            torch.testing.assert_close(together.critic.flat(2 + c), alone.critic.flat(c), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(together.actor.flat(1), alone.actor.flat(0), rtol=1e-4, atol=1e-5)
        for name, value in alone.scalars.items():
            torch.testing.assert_close(together.scalars[name][1:2], value, rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_continues_identically():
    data = tiny_dataset()
    cfg = cql.preset("cql", **TINY, lagrange=True, dropout=0.1)
    ref = train(cfg, data, seeds=[0])
    half = train(dataclasses.replace(cfg, steps=6), data, seeds=[0])
    sampler = Sampler(data, [0])
    for _ in range(6):
        sampler(cfg.batch_size)
    resumed = cql.make_trainer(cfg, data, [0])
    resumed.load_state_dict(half.state_dict())
    train(cfg, data, seeds=[0], trainer=resumed, sampler=sampler)
    for net in ("critic", "critic_target", "actor"):
        torch.testing.assert_close(getattr(resumed, net).flat(0), getattr(ref, net).flat(0), rtol=0, atol=0)
    for name in ("log_alpha", "log_alpha_prime"):
        torch.testing.assert_close(resumed.scalars[name], ref.scalars[name], rtol=0, atol=0)


# ---------------------------------------------------------------------------- configs
@pytest.mark.parametrize("config, changes, field", [
    (CQLConfig, dict(cql_alpha=-1.0), "cql_alpha"),
    (CQLConfig, dict(n_actions=0), "n_actions"),
    (CQLConfig, dict(cql_temp=0.0), "cql_temp"),
    (CQLConfig, dict(algorithm="td3"), "algorithm"),
    (SACOfflineConfig, dict(tau=0.0), "tau"),
    (SACOfflineConfig, dict(init_alpha=0.0), "init_alpha"),
])
def test_bad_config_is_a_one_line_error_naming_the_field(config, changes, field):
    with pytest.raises(ValueError, match=field) as err:
        config(**changes)
    assert "\n" not in str(err.value)


def test_presets():
    cfg = cql.preset("cql")
    assert (cfg.cql_alpha, cfg.n_actions, cfg.actor_lr, cfg.critic_lr, cfg.tau, cfg.batch_size) == (5.0, 10, 1e-4, 3e-4,
                                                                                                    0.005, 256)
    assert not cfg.backup_entropy and not cfg.lagrange and not cfg.max_target_backup and cfg.importance_sample
    ant = cql.preset("cql", **cql.ANTMAZE)
    assert ant.lagrange and ant.max_target_backup and ant.target_action_gap == 0.8
    assert CQLConfig.from_dict(dataclasses.asdict(ant)) == ant
    with pytest.raises(ValueError, match="cql"):
        cql.preset("iql")


# ---------------------------------------------------------------------------- critic options
@pytest.mark.parametrize("changes", [
    dict(critic_norm="layer"), dict(critic_norm="batch"), dict(critic_norm="weight"), dict(out_weight_norm=True),
    dict(dropout=0.1), dict(critic_activation="mish"), dict(lagrange=True, max_target_backup=True),
    dict(importance_sample=False, cql_clip_diff_min=-1.0, reward_scale=2.0, reward_bias=-1.0),
])
def test_critic_options_train_finite_and_q1_member_is_the_ensembles_q1(changes):
    data = tiny_dataset()
    agent = train(cql.preset("cql", **TINY, **changes), data, seeds=[0, 1])
    assert all(torch.isfinite(p).all() for p in (*agent.critic.parameters(), *agent.actor.parameters()))
    batch = Sampler(data, [0, 1])(8)
    member = agent.q1_member(1)
    if agent.cfg.dropout:  # compare without the random masks
        agent.critic.eval(), member.eval()
    with torch.no_grad():
        q1 = agent.q(batch.obs, batch.act)[1, 0]
        torch.testing.assert_close(member(torch.cat([batch.obs[1], batch.act[1]], -1)), q1, rtol=1e-5, atol=1e-5)
    if agent.cfg.lagrange:
        agent.update(batch, info=True)
        assert torch.isfinite(agent.info["cql_alpha"]).all() and agent.info["cql_alpha"].shape == (2,)


def test_nan_rewards_do_not_raise():
    data = tiny_dataset(rewards=torch.full((300,), float("nan")))
    agent = train(cql.preset("cql", **TINY, lagrange=True, max_target_backup=True), data, seeds=[0])
    assert agent.step == TINY["steps"] and torch.isnan(agent.critic.flat(0)).any()


def test_offline_sac_moves_alpha_towards_the_target_entropy():
    """dL_α/dlog α = −(E log π + H̄): α rises when the policy is less random than H̄ asks, else falls."""
    data = tiny_dataset()
    tiny = {k: v for k, v in TINY.items() if k != "n_actions"}
    assert soft_actor_critic.make_trainer(soft_actor_critic.preset("sac_offline"), data, [0]).target_entropy == -2.0
    cfg = soft_actor_critic.preset("sac_offline", **tiny, target_entropy=-1.0)
    agent = soft_actor_critic.make_trainer(cfg, data, [0, 1])
    batch = Sampler(data, [0, 1])(8)
    with torch.no_grad():
        _, logp = agent.sample(agent.policy_stats(batch.obs), n=500)
    excess = logp.mean((1, 2)) + agent.target_entropy  # (S,)
    assert (excess.abs() > 0.5).all() and (excess > 0).any() and (excess < 0).any()  # both directions
    agent.update(batch, info=True)
    assert set(agent.info) == {"critic_loss", "q1_batch", "critic_grad_norm", "actor_loss", "actor_grad_norm", "alpha"}
    torch.testing.assert_close(torch.sign(agent.alpha - cfg.init_alpha), torch.sign(excess))
