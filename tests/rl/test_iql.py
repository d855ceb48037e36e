"""seemlab.rl.iql: the expectile loss, a bandit IQL must solve, seeds, resume, options, config."""

import dataclasses
from unittest import mock

import pytest
import torch

from seemlab import rl
from seemlab.data.dataset import TransitionDataset
from seemlab.rl import iql
from seemlab.rl.base import Sampler, train
from seemlab.rl.iql import ANTMAZE, IQLConfig, preset
from synthetic import tiny_dataset

TINY = dict(steps=12, batch_size=8, critic_width=8, actor_width=8)
INFO_KEYS = {"critic_loss", "q1_batch", "critic_grad_norm", "value_loss", "actor_loss", "actor_grad_norm",
             "adv_weight_mean"}


def flat_weights(agent, s: int) -> torch.Tensor:
    """Every trained number of seed s: its two critics, V, μ and log σ."""
    parts = [agent.critic.flat(s * agent.C), agent.critic.flat(s * agent.C + 1), agent.value.flat(s),
             agent.actor.flat(s), agent.log_std[s].detach().reshape(-1)]
    return torch.cat(parts)


def test_expectile_loss_by_hand():
    u = torch.tensor([-1.0, 0.5, 2.0])
    by_hand = torch.tensor([0.3 * 1.0, 0.7 * 0.25, 0.7 * 4.0])  # |τ − 1(u<0)| u², τ = 0.7
    torch.testing.assert_close(iql.expectile_loss(u, 0.7), by_hand)
    assert iql.expectile_loss(u, 0.7).mean().item() == pytest.approx(3.275 / 3)
    # τ = 1/2 is half the squared error: the expectile is the mean
    torch.testing.assert_close(iql.expectile_loss(u, 0.5), 0.5 * u**2)


def bandit(n: int = 300, seed: int = 0) -> TransitionDataset:
    """One-step bandit in one state: a ∈ {−0.8, −0.2, 0.4} uniformly, r = 0, 0.5, 1, d = 1."""
    g = torch.Generator().manual_seed(seed)
    support, reward = torch.tensor([-0.8, -0.2, 0.4]), torch.tensor([0.0, 0.5, 1.0])
    k = torch.randint(3, (n,), generator=g)
    s = torch.ones(n, 2)
    return TransitionDataset(
        name="bandit", observations=s, actions=support[k, None], rewards=reward[k], next_observations=s,
        terminals=torch.ones(n), timeouts=torch.zeros(n), obs_mean=torch.zeros(2), obs_std=torch.ones(2),
        action_low=-torch.ones(1), action_high=torch.ones(1))


def test_bandit_policy_picks_the_best_in_support_action():
    # Behaviour cloning would give the mean action −0.2; β = 10 with A = r − V weights 0.4 by e^5
    # over −0.2, so AWR's weighted mean lands within 0.01 of 0.4.
    data = bandit()
    lr = 3e-3
    cfg = preset("iql", **ANTMAZE, steps=400, batch_size=32, critic_width=16, actor_width=16, actor_lr=lr,
                 critic_lr=lr, value_lr=lr, actor_lr_decay=False)
    agent = train(cfg, data, seeds=[0])
    actions = agent.policy_member(0)(data.observations[:4])
    assert actions.shape == (4, 1)
    assert (actions - 0.4).abs().max() < 0.15
    q = agent.q(data.observations[None, :3].expand(1, 3, 2), torch.tensor([[[-0.8], [-0.2], [0.4]]]))[0]
    assert (q.argmax(1) == 2).all()  # both critics rank the in-support actions right


def test_seed_gives_the_same_numbers_alone_or_in_an_ensemble():
    data = tiny_dataset()
    cfg = preset("iql", **TINY, dropout=0.1, actor_dropout=0.1)
    alone = train(cfg, data, seeds=[1])
    together = train(cfg, data, seeds=[0, 1, 2])
    torch.testing.assert_close(flat_weights(together, 1), flat_weights(alone, 0), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(flat_weights(together, 0), flat_weights(together, 1))


def test_state_dict_round_trip_continues_identically():
    data = tiny_dataset()
    cfg = preset("iql", **TINY, dropout=0.1, actor_dropout=0.1)  # every generator, and the LR decay
    ref = train(cfg, data, seeds=[0])
    half = train(cfg, data, seeds=[0], callback=lambda step, agent, metrics: step >= 6)  # same LR schedule
    sampler = Sampler(data, [0])
    for _ in range(6):
        sampler(cfg.batch_size)
    resumed = iql.make_trainer(cfg, data, [0])
    resumed.load_state_dict(half.state_dict())
    train(cfg, data, seeds=[0], trainer=resumed, sampler=sampler)
    torch.testing.assert_close(flat_weights(resumed, 0), flat_weights(ref, 0), rtol=0, atol=0)
    torch.testing.assert_close(resumed.critic_target.flat(0), ref.critic_target.flat(0), rtol=0, atol=0)


@pytest.mark.parametrize("changes, field", [
    (dict(expectile=0.0), "expectile"), (dict(expectile=1.0), "expectile"), (dict(expectile=1.5), "expectile"),
    (dict(temperature=-1.0), "temperature"), (dict(tau=0.0), "tau"), (dict(algorithm="td3"), "algorithm"),
    (dict(log_std_min=3.0), "log_std_min"), (dict(actor_dropout=1.0), "actor_dropout"),
])
def test_bad_config_raises_one_line_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=field) as err:
        IQLConfig(**changes)
    assert "\n" not in str(err.value)


def test_presets():
    cfg = rl.preset("iql")
    assert (cfg.expectile, cfg.temperature, cfg.tau, cfg.gamma, cfg.batch_size) == (0.7, 3.0, 0.005, 0.99, 256)
    assert (cfg.actor_lr, cfg.critic_lr, cfg.value_lr, cfg.dropout) == (3e-4, 3e-4, 3e-4, 0.0)
    assert cfg.actor_lr_decay and not cfg.reward_normalize and cfg.reward_shift == 0.0
    ant = preset("iql", **ANTMAZE)
    assert (ant.expectile, ant.temperature) == (0.9, 10.0)
    assert rl.config_from_dict(dataclasses.asdict(ant)) == ant
    with pytest.raises(ValueError, match="iql"):
        preset("td3_bc")


def q1_of_the_ensemble(agent, s: int, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    """Seed s's Q1 ``(N,)`` as the trainer computes it, dropout off."""
    agent.critic.eval()
    try:
        return agent.q(obs.expand(agent.S, *obs.shape), act.expand(agent.S, *act.shape))[s, 0]
    finally:
        agent.critic.train()


@pytest.mark.parametrize("changes", [
    dict(critic_norm="layer"), dict(critic_norm="batch"), dict(critic_norm="weight"), dict(dropout=0.1),
    dict(critic_activation="mish"), dict(out_weight_norm=True), dict(critic_norm="layer", value_norm=True),
    dict(critic_norm="psi", norm_layers=(1,)),
])
def test_every_critic_option_trains_and_q1_member_matches(changes):
    data = tiny_dataset()
    agent = train(preset("iql", **TINY, **changes), data, seeds=[0, 1])
    assert all(torch.isfinite(flat_weights(agent, s)).all() for s in range(2))
    obs, act = data.observations[:16], data.actions[:16]
    for s in range(2):
        member = agent.q1_member(s).train(agent.cfg.critic_norm == "batch")  # batch statistics, no dropout
        with torch.no_grad():
            torch.testing.assert_close(member(torch.cat([obs, act], 1)), q1_of_the_ensemble(agent, s, obs, act))


def test_value_is_plain_unless_value_norm():
    data = tiny_dataset()
    plain = iql.make_trainer(preset("iql", **TINY, critic_norm="layer", dropout=0.1), data, [0])
    assert plain.value.template.norm == "none" and plain.critic.template.norm == "layer"
    assert all(isinstance(block.dropout, torch.nn.Identity) for block in plain.value.template.blocks)
    normed = iql.make_trainer(preset("iql", **TINY, critic_norm="layer", value_norm=True), data, [0])
    assert normed.value.template.norm == "layer"


def test_one_update_fills_the_info_and_returns_floats():
    data = tiny_dataset()
    agent = iql.make_trainer(preset("iql", **TINY), data, seeds=[0, 1, 2])
    before = flat_weights(agent, 0).clone()
    out = agent.update(Sampler(data, agent.seeds)(8), info=True)
    assert set(out) == {"critic_loss", "value_loss", "actor_loss"} and all(isinstance(v, float) for v in out.values())
    assert set(agent.info) == INFO_KEYS and all(v.shape == (3,) for v in agent.info.values())
    assert agent.step == 1 and not torch.equal(before, flat_weights(agent, 0))


def test_update_order_is_value_actor_critic_target():
    data = tiny_dataset()
    agent = iql.make_trainer(preset("iql", **TINY), data, seeds=[0])
    calls = []

    def spy(name, f):
        return lambda *args: calls.append(name) or f(*args)

    with mock.patch.object(agent, "value_step", spy("V", agent.value_step)), \
            mock.patch.object(agent, "actor_step", spy("actor", agent.actor_step)), \
            mock.patch.object(agent, "critic_step", spy("Q", agent.critic_step)), \
            mock.patch.object(iql, "lerp_targets", spy("EMA", iql.lerp_targets)):
        agent.update(Sampler(data, agent.seeds)(8))
    assert calls == ["V", "actor", "Q", "EMA"]


def test_divergence_is_data_not_an_exception():
    data = tiny_dataset()
    agent = iql.make_trainer(preset("iql", **TINY, temperature=1e6), data, seeds=[0, 1])
    batch = Sampler(data, agent.seeds)(8)
    agent.update(batch, info=True)
    assert (agent.info["adv_weight_mean"] <= 100.0).all()  # exp(β A) clipped at w_max
    poisoned = batch._replace(rew=torch.full_like(batch.rew, float("nan")))
    for _ in range(2):
        agent.update(poisoned, info=True)  # must not raise
    assert not torch.isfinite(agent.info["critic_loss"]).all()


def test_actor_learning_rate_decays_on_a_cosine():
    data = tiny_dataset()
    for decay, last in ((True, 3e-4 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * 11 / 12)).item())), (False, 3e-4)):
        agent = train(preset("iql", **TINY, actor_lr_decay=decay), data)
        assert agent.actor_opt.param_groups[0]["lr"] == pytest.approx(last)
    assert iql.cosine_lr(1.0, 0, 10) == 1.0 and iql.cosine_lr(1.0, 5, 10) == pytest.approx(0.5)
    assert iql.cosine_lr(1.0, 20, 10) == 0.0


def test_official_reward_options():
    # two episodes (a terminal ends the first) with returns 3 and 7
    data = tiny_dataset(n=4, obs_dim=1, act_dim=1)
    obs = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    data = dataclasses.replace(data, observations=obs, next_observations=obs + 1, rewards=torch.tensor([1.0, 2, 3, 4]),
                               terminals=torch.tensor([0.0, 1, 0, 0]))
    torch.testing.assert_close(iql.episode_returns(data), torch.tensor([3.0, 7.0]))
    agent = iql.make_trainer(preset("iql", **TINY, reward_normalize=True, reward_shift=-1.0), data, [0])
    assert agent.reward_scale == pytest.approx(1000 / 4)
    batch = Sampler(data, [0])(8)
    _, y = agent.critic_step(batch.obs, batch.act, batch.rew, batch.next_obs, torch.ones_like(batch.term))
    torch.testing.assert_close(y[:, 0], batch.rew * 250 - 1)
    assert iql.make_trainer(preset("iql", **TINY), data, [0]).reward_scale == 1.0
