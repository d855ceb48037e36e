"""OPER-R (seemlab.rl.oper): weights on a hand-made dataset, sampling frequencies, errors, and
the policy-improvement batch reaching every trainer."""

import dataclasses

import numpy as np
import pytest
import torch

from seemlab import rl
from seemlab.rl import oper
from seemlab.rl.base import Sampler, train
from synthetic import tiny_dataset


def three_trajectories(p_scale: float = 1.0):
    """Three trajectories of lengths 2, 3 and 1 with returns 0, 3 and 1 (rewards × p_scale); the
    first ends at a terminal, the second at a timeout, the third at the end of the data."""
    rewards = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 1.0]) * p_scale
    obs = torch.arange(6, dtype=torch.float32)[:, None]
    return dataclasses.replace(
        tiny_dataset(n=6, obs_dim=1, act_dim=2), observations=obs, next_observations=obs + 1, rewards=rewards,
        terminals=torch.tensor([0.0, 1, 0, 0, 0, 0]), timeouts=torch.tensor([0.0, 0, 0, 0, 1, 0]))


def test_trajectory_returns_and_weights_by_hand():
    data = three_trajectories()
    np.testing.assert_allclose(oper.trajectory_returns(data), [0, 0, 3, 3, 3, 1])
    # p_base 0: w = (G − 0)/(3 − 0) = 0, 0, 1, 1, 1, 1/3; normalised by their sum 10/3
    np.testing.assert_allclose(oper.oper_r_probabilities(data), np.array([0, 0, 1, 1, 1, 1 / 3]) * 3 / 10)
    # p_base 0.5 lifts every transition: w = 0.5, 0.5, 1.5, 1.5, 1.5, 5/6 (sum 6 + 1/3)
    w = np.array([0.5, 0.5, 1.5, 1.5, 1.5, 5 / 6])
    np.testing.assert_allclose(oper.oper_r_probabilities(data, p_base=0.5), w / w.sum())
    # the weights depend on returns only through their normalisation: a reward scale changes nothing
    np.testing.assert_allclose(oper.oper_r_probabilities(three_trajectories(10.0)), oper.oper_r_probabilities(data))


def test_equal_returns_give_uniform_probabilities():
    data = dataclasses.replace(three_trajectories(), rewards=torch.zeros(6))
    np.testing.assert_allclose(oper.oper_r_probabilities(data), np.full(6, 1 / 6))


def test_sampling_frequencies_within_three_sigma():
    data = three_trajectories()
    p = oper.oper_r_probabilities(data, p_base=0.2)
    sampler = oper.OperSampler(data, [1000, 1001], p_base=0.2)
    draws = 20_000
    counts = np.zeros(6)
    obs_to_row = {float(o): i for i, o in enumerate(data.observations[:, 0])}
    for _ in range(draws // 500):
        for o in sampler.policy_batch(500).obs.reshape(-1).tolist():
            counts[obs_to_row[o]] += 1
    n = 2 * draws  # two seeds
    sigma = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) <= 3 * sigma + 1e-9), (counts / n, p)
    # p_base 0: the zero-return trajectory is never drawn
    zero = oper.OperSampler(data, [1002], p_base=0.0).policy_batch(2000).obs.reshape(-1)
    assert not torch.isin(zero, torch.tensor([0.0, 1.0])).any()


def test_uniform_batches_are_those_of_a_plain_sampler_and_state_resumes():
    data = three_trajectories()
    plain, prio = Sampler(data, [3, 4]), oper.OperSampler(data, [3, 4])
    for _ in range(3):
        prio.policy_batch(8)  # the prioritized stream must not shift the uniform one
        torch.testing.assert_close(plain(8).obs, prio(8).obs)
    state = prio.state()
    first = prio.policy_batch(16).obs, prio(16).obs
    prio.set_state(state)
    torch.testing.assert_close((prio.policy_batch(16).obs, prio(16).obs), first)


def test_errors_before_any_compute():
    no_ends = tiny_dataset(n=20)  # neither terminals nor timeouts flagged anywhere
    with pytest.raises(ValueError, match="no terminal or timeout"):
        oper.OperSampler(no_ends, [0])
    with pytest.raises(ValueError, match="p_base must be >= 0"):
        oper.oper_r_probabilities(three_trajectories(), p_base=-0.1)
    subset = dataclasses.replace(three_trajectories(), info={"fraction": 0.5})
    with pytest.raises(ValueError, match="subset"):
        oper.oper_r_probabilities(subset)


@pytest.mark.parametrize("algorithm", ["td3_bc", "iql", "cql", "diffusion_ql"])
def test_every_trainer_learns_its_policy_on_the_policy_batch(algorithm):
    """With a policy batch, the actor's update depends on it and the critic's first step does not."""
    data = tiny_dataset(n=64, terminals=(torch.arange(64) % 16 == 15).float())
    tiny = dict(steps=1, critic_width=8, actor_width=8, batch_size=8)
    if algorithm == "diffusion_ql":
        tiny.update(actor_depth=1, critic_depth=1, n_timesteps=2)
    if algorithm == "td3_bc":
        tiny.update(policy_freq=1)  # the actor steps at the first update
    cfg = rl.preset(algorithm, **tiny)
    batch = Sampler(data, [0])(8)
    other = Sampler(dataclasses.replace(data, observations=data.observations + 3.0), [0])(8)

    def after_update(policy_batch):
        agent = rl.make_trainer(cfg, data, [0])
        agent.update(batch, policy_batch=policy_batch)
        return agent.state_dict()

    same, moved = after_update(None), after_update(other)
    assert torch.equal(_flat(same["critic"]), _flat(moved["critic"]))
    assert not torch.equal(_flat(same["actor"]), _flat(moved["actor"]))


def test_train_loop_passes_the_prioritized_batch():
    data = three_trajectories()
    cfg = rl.preset("td3_bc", steps=3, critic_width=8, actor_width=8, batch_size=4)
    seen = []

    class Spy(oper.OperSampler):
        def policy_batch(self, batch_size):
            out = super().policy_batch(batch_size)
            seen.append(out.obs)
            return out

    train(cfg, data, [0], sampler=Spy(data, [0]))
    assert len(seen) == 3 and all(torch.isin(b, torch.tensor([2.0, 3.0, 4.0, 5.0])).all() for b in seen)


def _flat(state: dict) -> torch.Tensor:
    return torch.cat([v.reshape(-1).float() for v in state.values() if isinstance(v, torch.Tensor)])
