"""seemlab.rl.td3: config validation, the batched ensemble, one update, the loop, determinism."""

import dataclasses
from unittest import mock

import pytest
import torch

from seemlab.rl import td3
from seemlab.rl.base import FusedAdam, Sampler, member_seed, train
from seemlab.rl.td3 import TD3Config, preset
from synthetic import tiny_dataset

TINY = dict(steps=12, batch_size=8, critic_width=8, actor_width=8)


@pytest.mark.parametrize("changes, match", [
    (dict(algorithm="sac"), "algorithm"),
    (dict(critic_norm="group"), "critic_norm"),
    (dict(tau=0.0), "tau"),
    (dict(tau=1.5), "tau"),
    (dict(critic_lr=-1e-3), "critic_lr"),
    (dict(actor_lr=0.0), "actor_lr"),
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(norm_layers=(5,)), "norm_layers"),
])
def test_bad_config_raises_before_training(changes, match):
    with pytest.raises(ValueError, match=match):
        TD3Config(**changes)


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match="td3_bc"):
        preset("iql")


def test_dataset_without_action_bounds_is_rejected():
    data = tiny_dataset(action_low=None, action_high=None)
    with pytest.raises(ValueError, match="action bounds"):
        train(preset("td3_bc", **TINY), data)


def test_one_update_returns_floats_and_moves_the_weights():
    data = tiny_dataset()
    agent = td3.make_trainer(preset("td3_bc", **TINY), data, seeds=[0, 1])
    before = agent.critic.flat(0).clone()
    batch = Sampler(data, agent.seeds)(8)
    assert [t.shape for t in batch] == [(2, 8, 4), (2, 8, 2), (2, 8), (2, 8, 4), (2, 8)]
    out = agent.update(batch, info=True)
    assert set(out) == {"critic_loss"} and isinstance(out["critic_loss"], float)
    out = agent.update(batch, info=True)  # policy_freq 2: the actor moves on step 2
    assert all(isinstance(v, float) for v in out.values()) and "actor_loss" in out
    assert agent.step == 2 and not torch.equal(before, agent.critic.flat(0))
    assert agent.info["critic_grad_norm"].shape == (2,) and torch.isfinite(agent.info["actor_grad_norm"]).all()


def test_act_and_q_shapes_and_action_box():
    data = tiny_dataset(action_low=-2 * torch.ones(2), action_high=2 * torch.ones(2))
    agent = td3.make_trainer(preset("td3_bc", **TINY), data, seeds=[0, 1, 2])
    obs = data.observations[:5].expand(3, 5, 4)
    a = agent.act(obs)
    assert a.shape == (3, 5, 2) and a.abs().max() <= 2
    assert agent.q(obs, a).shape == (3, 2, 5)
    assert preset("ddpg", **TINY).double_q is False


def test_no_ema_target_is_the_current_critic():
    data = tiny_dataset()
    agent = td3.make_trainer(preset("td3_bc", **TINY, tau=1.0, policy_freq=1), data, [0])
    assert agent.critic_target is agent.critic
    lagged = td3.make_trainer(preset("td3_bc", **TINY, tau=1.0, policy_freq=2), data, [0])
    batch = Sampler(data, [0])(8)
    lagged.update(batch)
    lagged.update(batch)  # actor step: target := current
    torch.testing.assert_close(lagged.critic_target.flat(0), lagged.critic.flat(0), rtol=0, atol=0)


def test_loop_calls_update_and_callback_once_per_step():
    data = tiny_dataset()
    cfg = preset("td3_bc", **TINY)
    calls = []
    with mock.patch.object(td3.TD3, "update", autospec=True, return_value={"critic_loss": 0.0}) as update:
        train(cfg, data, seeds=[0, 1], callback=lambda step, agent, m: calls.append(step) or False)
    assert update.call_count == cfg.steps
    obs = update.call_args.args[1].obs
    assert obs.shape == (2, cfg.batch_size, data.obs_dim)
    assert calls == list(range(cfg.steps + 1))  # step 0 before training, then after each update


def test_callback_can_stop_the_loop():
    data = tiny_dataset()
    agent = train(preset("td3_bc", **TINY), data, callback=lambda step, a, m: step >= 5)
    assert agent.step == 5


def test_same_seed_same_weights_on_cpu():
    data = tiny_dataset()
    cfg = preset("td3_bc", **TINY, dropout=0.1)
    torch.manual_seed(0)
    a = train(cfg, data, seeds=[3])
    torch.manual_seed(0)
    b = train(cfg, data, seeds=[3])
    torch.testing.assert_close(a.critic.flat(0), b.critic.flat(0), rtol=0, atol=0)
    torch.testing.assert_close(a.actor.flat(0), b.actor.flat(0), rtol=0, atol=0)


def test_seed_gives_the_same_numbers_alone_or_in_an_ensemble():
    data = tiny_dataset()
    cfg = preset("td3_bc", **TINY)
    alone = train(cfg, data, seeds=[1])
    together = train(cfg, data, seeds=[0, 1, 2])
    torch.testing.assert_close(together.critic.flat(1 * together.C), alone.critic.flat(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(together.actor.flat(1), alone.actor.flat(0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("changes", [
    dict(critic_norm="layer"), dict(critic_norm="batch"), dict(out_weight_norm=True), dict(dropout=0.1),
    dict(weight_decay=1e-2), dict(optimizer="sgd"), dict(double_q=False, target_smoothing=False),
    dict(q_normalize=False, bc_weight=0.0),
])
def test_variants_train_and_stay_finite(changes):
    agent = train(preset("td3_bc", **TINY, **changes), tiny_dataset())
    assert torch.isfinite(agent.critic.flat(0)).all() and torch.isfinite(agent.actor.flat(0)).all()


def test_state_dict_round_trip_continues_identically():
    data = tiny_dataset()
    cfg = preset("td3_bc", **TINY)
    ref = train(cfg, data, seeds=[0])
    half = train(dataclasses.replace(cfg, steps=6), data, seeds=[0])
    sampler = Sampler(data, [0])
    for _ in range(6):
        sampler(cfg.batch_size)
    resumed = td3.make_trainer(cfg, data, [0])
    resumed.load_state_dict(half.state_dict())
    train(cfg, data, seeds=[0], trainer=resumed, sampler=sampler)
    torch.testing.assert_close(resumed.critic.flat(0), ref.critic.flat(0), rtol=0, atol=0)


def test_fused_adam_equals_torch_adam_bit_for_bit():
    for wd in (0.0, 1e-2):
        p1 = torch.nn.Parameter(torch.randn(3, 5, generator=torch.Generator().manual_seed(0)))
        p2 = torch.nn.Parameter(p1.detach().clone())
        ours = FusedAdam([p1], lr=1e-2, betas=(0.9, 0.999), weight_decay=wd, decoupled=wd > 0)
        ref = (torch.optim.AdamW if wd else torch.optim.Adam)([p2], lr=1e-2, betas=(0.9, 0.999), weight_decay=wd)
        for i in range(5):
            g = torch.randn(3, 5, generator=torch.Generator().manual_seed(i + 1))
            p1.grad, p2.grad = g.clone(), g.clone()
            ours.step()
            ref.step()
        torch.testing.assert_close(p1, p2, rtol=0, atol=1e-7)
        assert set(ours.state_dict()["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}


def test_sampler_draws_what_the_dataset_sampler_draws():
    data = tiny_dataset()
    batch = Sampler(data, [5])(16)
    ref = data.sample(16, torch.Generator().manual_seed(member_seed(5, 3)))
    for ours, theirs in zip(batch, ref):
        torch.testing.assert_close(ours[0], theirs, rtol=0, atol=0)


def test_fused_adam_refuses_a_missing_gradient():
    p = torch.nn.Parameter(torch.ones(3))
    opt = FusedAdam([p], lr=1e-2, betas=(0.9, 0.999))
    with pytest.raises(RuntimeError, match="gradient for every parameter"):
        opt.step()
