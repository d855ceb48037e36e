"""OPER-R: return-based offline prioritized replay (Yue, Kang, Ma, Huang, Song & Yan 2023,
"Offline prioritized experience replay", arXiv:2306.05412), as the SEEM paper uses it on the
medium and large AntMaze datasets (App. E): the policy-improvement minibatch is drawn with
priorities, policy evaluation stays uniform.

Priority of transition i, whose trajectory τ(i) has return G(τ(i)) (the sum of its rewards):

    w_i = (G(τ(i)) − G_min) / (G_max − G_min) + p_base,        P(i) = w_i / Σ_j w_j,

with G_min, G_max over the dataset's trajectories. With sparse AntMaze rewards and p_base = 0
(the paper's setting) only transitions of trajectories that reached the goal are drawn. When
every trajectory has the same return, the normalised return is undefined and P is uniform.

Trajectories end where the dataset flags ``terminals`` or ``timeouts``, or where s' is not the
next row's s (:func:`seemlab.data.dataset.episode_ids`, shared with IQL's reward scaling). A
dataset that flags no terminal or timeout anywhere has no known trajectories and is refused, and
so is an X% subset, whose random rows no longer form trajectories.

:class:`OperSampler` is a :class:`~seemlab.rl.base.Sampler` (the uniform evaluation batches,
drawn exactly as without OPER) with a second, prioritized stream per seed for
:meth:`~OperSampler.policy_batch`; every trainer takes that batch as ``update(...,
policy_batch=)``, so OPER-R works with any algorithm.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from seemlab.rl.base import Batch, Sampler, member_seed

POLICY_SAMPLER_ROLE = 60  # member_seed role of the prioritized stream (td3 0-8, iql 20-24, sac 30-38, dql 40-46)


def trajectory_returns(data) -> np.ndarray:
    """Per transition (N,) float64: the undiscounted return of the trajectory it belongs to
    (trajectories as :func:`seemlab.data.dataset.episode_ids` splits them).

    Raises:
        ValueError: no transition is flagged terminal or timeout: the trajectories are unknown.
    """
    from seemlab.data.dataset import episode_ids

    if not ((data.terminals > 0) | (data.timeouts > 0)).any():
        raise ValueError(f"OPER-R needs trajectory boundaries, but {data.name} flags no terminal or timeout "
                         f"transition; its trajectories and their returns are unknown")
    episode = episode_ids(data).cpu().numpy()
    totals = np.bincount(episode, weights=data.rewards.double().cpu().numpy())
    return totals[episode]


def oper_r_probabilities(data, p_base: float = 0.0) -> np.ndarray:
    """P(i) (N,) float64 of OPER-R for a :class:`~seemlab.data.TransitionDataset` (module docstring).

    Raises:
        ValueError: ``p_base`` < 0, an X% subset, or a dataset without trajectory boundaries.
    """
    if not p_base >= 0:
        raise ValueError(f"OPER-R p_base must be >= 0, got {p_base!r}")
    if data.info.get("fraction", 1.0) != 1.0:
        raise ValueError(f"OPER-R needs whole trajectories, but {data.name} is a {data.info['fraction']:.0%} "
                         f"subset of random transitions; use fraction 1")
    g = trajectory_returns(data)
    spread = g.max() - g.min()
    w = (g - g.min()) / spread + p_base if spread > 0 else np.ones_like(g)
    return w / w.sum()  # spread > 0: the best trajectory has w = 1 + p_base > 0


class OperSampler(Sampler):
    """Uniform evaluation batches (as :class:`Sampler`) plus OPER-R policy-improvement batches.

    Each seed's prioritized stream has its own generator (role :data:`POLICY_SAMPLER_ROLE`), so
    the uniform batches are exactly those of a run without OPER-R.
    """

    def __init__(self, data, seeds: Sequence[int], p_base: float = 0.0):
        super().__init__(data, seeds)
        cdf = np.cumsum(oper_r_probabilities(data, p_base))
        self.cdf = torch.from_numpy(cdf / cdf[-1])  # float64: 1e6 small weights stay distinct
        self.policy_generators = [torch.Generator().manual_seed(member_seed(s, POLICY_SAMPLER_ROLE)) for s in seeds]

    def policy_batch(self, batch_size: int) -> Batch:
        """Per-seed minibatches ``(S, B, ...)`` drawn with probabilities P(i) (inverse CDF)."""
        u = torch.stack([torch.rand(batch_size, generator=g, dtype=torch.float64) for g in self.policy_generators])
        return self.rows(torch.searchsorted(self.cdf, u, right=True).clamp_(max=self.n - 1))

    def state(self) -> list[torch.Tensor]:
        return super().state() + [g.get_state() for g in self.policy_generators]

    def set_state(self, states: list[torch.Tensor]) -> None:
        S = len(self.generators)
        super().set_state(states[:S])
        for g, s in zip(self.policy_generators, states[S:]):
            g.set_state(s)
