"""A tiny synthetic offline dataset for the RL, diagnostics and runs tests (no files, no env)."""

import torch

from seemlab.data.dataset import TransitionDataset


def tiny_dataset(n: int = 300, obs_dim: int = 4, act_dim: int = 2, seed: int = 0, **changes) -> TransitionDataset:
    """n transitions: s ~ N(0, I), a ~ U[-1, 1], r ~ U[0, 1], s' = s + 0.1·N(0, I), no terminals."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, obs_dim, generator=g)
    fields = dict(
        name="synthetic", observations=s, actions=torch.rand(n, act_dim, generator=g) * 2 - 1,
        rewards=torch.rand(n, generator=g), next_observations=s + 0.1 * torch.randn(n, obs_dim, generator=g),
        terminals=torch.zeros(n), timeouts=torch.zeros(n), obs_mean=torch.zeros(obs_dim),
        obs_std=torch.ones(obs_dim), action_low=-torch.ones(act_dim), action_high=torch.ones(act_dim))
    fields.update(changes)
    return TransitionDataset(**fields)
