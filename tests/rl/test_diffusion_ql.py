"""seemlab.rl.diffusion_ql: the schedule and loss by hand, a one-step bandit, seeds alone vs
together, resume, validation, critic options."""

import math

import pytest
import torch

from seemlab.data.dataset import TransitionDataset
from seemlab.rl import diffusion_ql as dq
from seemlab.rl.base import Sampler, train
from synthetic import tiny_dataset

TINY = dict(steps=8, batch_size=8, critic_width=8, actor_width=8, critic_depth=2, actor_depth=2,
            step_start_ema=0, update_ema_every=2)


# ---------------------------------------------------------------- the diffusion by hand
def test_vp_schedule_matches_the_closed_form():
    betas = dq.vp_beta_schedule(5)
    # β_1 = 1 − exp(−0.1/5 − 0.5·9.9·1/25) = 1 − exp(−0.218)
    assert betas[0].item() == pytest.approx(1 - math.exp(-0.218), abs=1e-7)
    sched = dq.make_schedule(betas)
    for t in range(1, 6):  # ᾱ_t = exp(−0.1 t/5 − 9.9 t²/50)
        abar = math.exp(-0.1 * t / 5 - 9.9 * t**2 / 50)
        assert sched.sqrt_abar[t - 1].item() == pytest.approx(math.sqrt(abar), rel=1e-6)
        assert sched.sqrt_one_minus_abar[t - 1].item() == pytest.approx(math.sqrt(1 - abar), rel=1e-6)
    assert sched.sqrt_abar[4].item() == pytest.approx(math.exp(-5.05 / 2), rel=1e-6)  # ᾱ_5 = e^−5.05


def test_noisy_action_and_diffusion_loss_by_hand():
    sched = dq.make_schedule(dq.vp_beta_schedule(5))
    u0 = torch.tensor([[0.5, -1.0], [0.0, 0.2], [1.0, 1.0]])
    eps = torch.tensor([[1.0, 2.0], [-1.0, 0.0], [0.5, -0.5]])
    i = torch.tensor([0, 2, 4])  # t = 1, 3, 5
    obs = torch.zeros(3, 1)
    abar = [math.exp(-0.1 * t / 5 - 9.9 * t**2 / 50) for t in (1, 3, 5)]
    expected = torch.tensor([[math.sqrt(a) * u + math.sqrt(1 - a) * e for u, e in zip(u0[k].tolist(), eps[k].tolist())]
                             for k, a in enumerate(abar)])
    torch.testing.assert_close(dq.noisy_action(sched, u0, i, eps), expected, rtol=1e-6, atol=1e-6)
    # ε_θ ≡ 0: L_d is the mean of ε² over the 6 entries = (1 + 4 + 1 + 0 + 0.25 + 0.25)/6
    zero = dq.diffusion_loss(lambda u, i, s: torch.zeros_like(u), sched, u0, obs, i, eps)
    assert zero.item() == pytest.approx(6.5 / 6, rel=1e-6)
    # ε_θ(u_t) = u_t: L_d = mean (u_t − ε)²
    ident = dq.diffusion_loss(lambda u, i, s: u, sched, u0, obs, i, eps)
    assert ident.item() == pytest.approx(((expected - eps) ** 2).mean().item(), rel=1e-6)
    assert ident.item() == pytest.approx(0.680722, abs=1e-5)  # from the closed-form ᾱ in float64


def test_reverse_chain_of_a_perfect_denoiser_returns_the_start():
    # With ε_θ(u_t) = ε exactly (u_t built from u_0 and ε), û_0 = u_0 at every step, so the
    # posterior mean at t = 1 is exactly u_0 (coefficients β_1/(1 − ᾱ_1)·1 and 0).
    sched = dq.make_schedule(dq.vp_beta_schedule(5))
    u0, eps = torch.tensor([[0.3, -0.7]]), torch.tensor([[0.4, 1.1]])
    u1 = dq.noisy_action(sched, u0, torch.tensor([0]), eps)
    out = dq.reverse_step(sched, u1, 0, eps, None)
    torch.testing.assert_close(out, u0, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- learning
BANDIT_ACTIONS, BANDIT_REWARDS = [-0.8, -0.2, 0.4, 0.9], [0.0, 0.4, 1.0, 0.2]


def bandit(n: int = 300) -> TransitionDataset:
    """One step (all terminal), s ≡ 0, 1-D action a ∈ {−0.8, −0.2, 0.4, 0.9} with rewards 0,
    0.4, 1, 0.2: the best supported action 0.4 is interior, so Q cannot extrapolate to a better
    edge of the box (with support ending at 0.4 the Q-guidance pushes to 1)."""
    acts = torch.tensor(BANDIT_ACTIONS).repeat(n // 4)
    rew = torch.tensor(BANDIT_REWARDS).repeat(n // 4)
    s = torch.zeros(len(acts), 1)
    return TransitionDataset(name="bandit", observations=s, actions=acts[:, None], rewards=rew, next_observations=s,
                             terminals=torch.ones(len(acts)), timeouts=torch.zeros(len(acts)),
                             obs_mean=torch.zeros(1), obs_std=torch.ones(1), action_low=-torch.ones(1),
                             action_high=torch.ones(1))


def test_bandit_policy_picks_the_best_supported_action():
    cfg = dq.preset("diffusion_ql", steps=900, batch_size=32, critic_width=16, actor_width=16, critic_depth=2,
                    actor_depth=2, actor_lr=1e-3, critic_lr=3e-3, step_start_ema=0)
    agent = train(cfg, bandit(), seeds=[0, 1])
    q = agent.q(torch.zeros(2, 4, 1), torch.tensor(BANDIT_ACTIONS).expand(2, 4).unsqueeze(-1))
    torch.testing.assert_close(q, torch.tensor(BANDIT_REWARDS).expand(2, 2, 4), rtol=0, atol=0.05)
    best = agent.act(torch.zeros(2, 4, 1), samples=50)  # best of 50 by Q
    assert best.shape == (2, 4, 1)
    torch.testing.assert_close(best, torch.full_like(best, 0.4), rtol=0, atol=0.1)
    # The fixed-noise chain is one sample of a still multimodal policy; on average over states it
    # sits near 0.4, far from the data's mean action 0.075.
    for s in range(2):
        assert abs(agent.policy_member(s)(torch.zeros(200, 1)).mean().item() - 0.4) < 0.1


# ---------------------------------------------------------------- interface
def test_update_info_keys_shapes_and_policy_box():
    data = tiny_dataset(action_low=-2 * torch.ones(2), action_high=torch.tensor([2.0, 0.5]))
    agent = dq.make_trainer(dq.preset("diffusion_ql", **TINY), data, seeds=[0, 1])
    out = agent.update(Sampler(data, agent.seeds)(8), info=True)
    assert set(out) == {"critic_loss", "actor_loss"} and all(isinstance(v, float) for v in out.values())
    assert set(agent.info) == {"critic_loss", "q1_batch", "critic_grad_norm", "actor_loss", "actor_grad_norm",
                               "bc_loss", "q_loss_term"}
    assert all(v.shape == (2,) and torch.isfinite(v).all() for v in agent.info.values())
    torch.testing.assert_close(agent.info["actor_loss"], agent.info["bc_loss"] + agent.info["q_loss_term"])
    policy = agent.policy_member(1)
    a = policy(data.observations[:50])
    assert a.shape == (50, 2) and (a[:, 0].abs() <= 2).all() and (a[:, 1] <= 0.5).all() and (a[:, 1] >= -2).all()
    torch.testing.assert_close(policy(data.observations[:50]), a, rtol=0, atol=0)  # fixed noise
    assert agent.act(data.observations[:5].expand(2, 5, 4), samples=3).shape == (2, 5, 2)


def test_seed_gives_the_same_numbers_alone_or_in_an_ensemble():
    data = tiny_dataset()
    cfg = dq.preset("diffusion_ql", **TINY, max_q_backup=True, q_backup_samples=3, grad_clip=0.5)
    alone = train(cfg, data, seeds=[1])
    together = train(cfg, data, seeds=[0, 1, 2])
    for net in ("critic", "critic_target"):
        torch.testing.assert_close(getattr(together, net).flat(2), getattr(alone, net).flat(0), rtol=1e-4, atol=1e-5)
    for net in ("actor", "actor_target"):
        torch.testing.assert_close(getattr(together, net).flat(1), getattr(alone, net).flat(0), rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_continues_identically():
    data = tiny_dataset()
    cfg = dq.preset("diffusion_ql", **TINY, lr_decay=True, dropout=0.1)
    ref = train(cfg, data, seeds=[0, 1])
    half = train(cfg, data, seeds=[0, 1], callback=lambda step, agent, metrics: step >= 4)  # same LR schedule
    sampler = Sampler(data, [0, 1])
    for _ in range(4):
        sampler(cfg.batch_size)
    resumed = dq.make_trainer(cfg, data, [0, 1])
    resumed.load_state_dict(half.state_dict())
    train(cfg, data, seeds=[0, 1], trainer=resumed, sampler=sampler)
    for net in ("critic", "actor", "critic_target", "actor_target"):
        torch.testing.assert_close(getattr(resumed, net).flat(1), getattr(ref, net).flat(1), rtol=0, atol=0)
    assert resumed.actor_opt.param_groups[0]["lr"] == ref.actor_opt.param_groups[0]["lr"] < cfg.actor_lr


# ---------------------------------------------------------------- configuration
@pytest.mark.parametrize("changes, match", [
    (dict(bc_coef=-1.0), "bc_coef"),
    (dict(n_timesteps=0), "n_timesteps"),
    (dict(eta=-0.1), "eta"),
    (dict(t_dim=7), "t_dim"),
    (dict(critic_norm="group"), "critic_norm"),
])
def test_bad_config_is_a_one_line_value_error(changes, match):
    with pytest.raises(ValueError, match=match) as err:
        dq.preset("diffusion_ql", **changes)
    assert "\n" not in str(err.value)


def test_presets():
    cfg = dq.preset("diffusion_ql")
    assert (cfg.critic_activation, cfg.critic_depth, cfg.n_timesteps, cfg.eta, cfg.bc_coef) == ("mish", 3, 5, 1.0, 1.0)
    ant = dq.preset("diffusion_ql", **dq.ANTMAZE)
    assert ant.max_q_backup and ant.lr_decay and ant.bc_coef == 0.5
    with pytest.raises(ValueError, match="diffusion_ql"):
        dq.preset("iql")


@pytest.mark.parametrize("changes", [
    dict(), dict(critic_norm="layer"), dict(critic_norm="batch"), dict(critic_norm="weight"),
    dict(out_weight_norm=True), dict(dropout=0.1),
])
def test_critic_options_train_finite_and_q1_member_matches(changes):
    data = tiny_dataset()
    agent = train(dq.preset("diffusion_ql", **TINY, **changes), data, seeds=[0, 1])
    assert torch.isfinite(agent.critic.flat(0)).all() and torch.isfinite(agent.actor.flat(1)).all()
    obs, act = data.observations[:16], data.actions[:16]
    member = agent.q1_member(1)
    assert isinstance(member.blocks[0].act, torch.nn.Mish)
    agent.critic.eval(), member.eval()  # dropout off on both sides (batch norm: batch statistics below)
    if changes.get("critic_norm") == "batch":
        member.train()
    expected = agent.q(obs.expand(2, 16, 4), act.expand(2, 16, 2))[1, 0]
    torch.testing.assert_close(member(torch.cat([obs, act], 1)), expected, rtol=1e-5, atol=1e-5)


def test_non_finite_values_are_data_not_errors():
    data = tiny_dataset(rewards=torch.full((300,), float("inf")))
    agent = train(dq.preset("diffusion_ql", **TINY, max_q_backup=True, q_backup_samples=2), data, seeds=[0, 1])
    agent.update(Sampler(data, agent.seeds)(8), info=True)
    assert not torch.isfinite(agent.critic.flat(0)).all()
    assert agent.act(data.observations[:3].expand(2, 3, 4)).shape == (2, 3, 2)
