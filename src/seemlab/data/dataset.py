"""The one transition-dataset type, and the steps every source shares.

Axes: N transitions, B a minibatch, d_s state features, d_a action dimensions. Rewards,
terminals and timeouts are flat, shape (N,) (and (B,) in a batch), never (N, 1).

Every source (Minari, D4RL hdf5, local) produces a :class:`RawTransitions` of NumPy arrays; then
:func:`build` validates it, takes the X% subset, normalizes states and makes tensors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from seemlab.data.scores import ReferenceScores, Score, normalized_score

STATE_STD_EPS = 1e-3  # TD3+BC's epsilon added to the state std
_ARRAYS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")


class DataNotFoundError(FileNotFoundError, ValueError):
    """A dataset or file that is not there. Also a ValueError, so the CLI reports it in one line."""


class Batch(NamedTuple):
    """A minibatch: observations (B, d_s), actions (B, d_a), rewards (B,),
    next_observations (B, d_s), terminals (B,) (1.0 where the episode ended in a true terminal)."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminals: torch.Tensor


@dataclass(frozen=True)
class RawTransitions:
    """What a source reads, before validation, subsetting and normalization (NumPy arrays).

    observations (N, d_s), actions (N, d_a), rewards (N,), next_observations (N, d_s),
    terminals (N,), timeouts (N,); action_low / action_high (d_a,).
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    action_low: np.ndarray | None
    action_high: np.ndarray | None
    reference: ReferenceScores | None
    env_id: str | None
    source: str


@dataclass(frozen=True, eq=False)
class TransitionDataset:
    """An offline-RL dataset of N transitions, float32 tensors on one device.

    Fields:
        name: the spec it was loaded from, e.g. ``local:hopper-random-10k-v0``.
        observations: (N, d_s), already normalized with obs_mean/obs_std.
        actions: (N, d_a), within [action_low, action_high].
        rewards: (N,) raw rewards.
        next_observations: (N, d_s), normalized like observations.
        terminals: (N,) 1.0 where s' is terminal (bootstrapping stops).
        timeouts: (N,) 1.0 where the episode was cut by a time limit (bootstrapping continues).
        obs_mean, obs_std: (d_s,) what was subtracted and divided; 0 and 1 when
            ``normalize_states=False``. Apply :meth:`normalize_obs` to evaluation-env states.
        action_low, action_high: (d_a,) the action box.
        reference: D4RL or Minari reference scores with their source, or None.
        env_id: the Gymnasium env to evaluate in, when known.
        info: provenance: source, fraction, subset seed, full size, file path.
    """

    name: str
    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminals: torch.Tensor
    timeouts: torch.Tensor
    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    action_low: torch.Tensor
    action_high: torch.Tensor
    reference: ReferenceScores | None = None
    env_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.observations.shape[0]

    @property
    def obs_dim(self) -> int:
        return self.observations.shape[1]

    @property
    def action_dim(self) -> int:
        return self.actions.shape[1]

    @property
    def device(self) -> torch.device:
        return self.observations.device

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """A uniform minibatch (with replacement) of ``batch_size`` transitions.

        The indices are drawn on ``generator``'s device, so a CPU generator gives the same batch
        whatever device the data lives on.
        """
        idx = torch.randint(len(self), (batch_size,), generator=generator, device=generator.device)
        idx = idx.to(self.device)
        return Batch(self.observations[idx], self.actions[idx], self.rewards[idx],
                     self.next_observations[idx], self.terminals[idx])

    def to(self, device: torch.device | str) -> TransitionDataset:
        """A copy with every tensor on ``device``."""
        moved = {f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)
                 if isinstance(getattr(self, f.name), torch.Tensor)}
        return dataclasses.replace(self, **moved)

    def normalize_obs(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Environment states (..., d_s) mapped the way the dataset's states were."""
        obs = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return (obs - self.obs_mean) / self.obs_std

    def score(self, returns: float | np.ndarray, reference: ReferenceScores | None = None) -> Score:
        """Score episode returns (E,) with the dataset's reference scores, or explicit ones."""
        return normalized_score(returns, reference if reference is not None else self.reference)


EPISODE_GAP = 1e-6
"""A transition whose s' is farther than this from the next row's s ends an episode (IQL's
official ``split_into_trajectories``)."""


def episode_ids(data: TransitionDataset) -> torch.Tensor:
    """``(N,)`` long: the episode of each transition, 0, 1, ... in row order. An episode ends at a
    terminal or timed-out transition, or where s' is not the next row's s."""
    ends = (data.terminals > 0) | (data.timeouts > 0)
    jumps = (data.observations[1:] - data.next_observations[:-1]).norm(dim=1) > EPISODE_GAP
    ends[:-1] |= jumps
    return torch.cat([ends.new_zeros(1), ends[:-1]]).long().cumsum(0)


def validate(raw: RawTransitions, name: str) -> None:
    """Check shapes, finiteness and action bounds; raise ValueError naming the problem."""
    n = raw.observations.shape[0]
    if n == 0:
        raise ValueError(f"{name}: the dataset is empty")
    for key in _ARRAYS:
        arr = getattr(raw, key)
        if arr.shape[0] != n:
            raise ValueError(f"{name}: '{key}' has {arr.shape[0]} rows, 'observations' has {n}")
        want = 2 if key in ("observations", "actions", "next_observations") else 1
        if arr.ndim != want:
            raise ValueError(f"{name}: '{key}' has shape {arr.shape}, expected {want} axes")
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.argwhere(bad)[0][0])
            raise ValueError(f"{name}: '{key}' has {int(bad.sum())} non-finite values "
                             f"(NaN or inf), the first at transition {first}")
    if raw.next_observations.shape[1] != raw.observations.shape[1]:
        raise ValueError(f"{name}: next_observations and observations differ in width")
    _validate_bounds(raw, name)


def _validate_bounds(raw: RawTransitions, name: str) -> None:
    if raw.action_low is None or raw.action_high is None:
        raise ValueError(f"{name}: the dataset gives no action bounds (a Box action space)")
    low, high = np.asarray(raw.action_low), np.asarray(raw.action_high)
    if low.shape != (raw.actions.shape[1],) or high.shape != low.shape:
        raise ValueError(f"{name}: action bounds have shape {low.shape}, expected "
                         f"({raw.actions.shape[1]},)")
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise ValueError(f"{name}: action bounds must be finite with low < high")


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in (0, 1], else ValueError."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    if not (0.0 < float(fraction) <= 1.0):
        raise ValueError(f"fraction must be in (0, 1] (e.g. 0.01, 0.1, 0.5, 1.0), got {fraction}")
    return float(fraction)


def subset_seed_for(key: str, fraction: float, subset_seed: int | None = None) -> int:
    """A stable 63-bit seed for the subset of dataset ``key`` at ``fraction`` (SHA-256 based).

    The same (dataset, X) always gives the same seed, on any machine and Python; ``subset_seed``
    picks an alternative subset when given.
    """
    text = f"{key}|{fraction!r}" + ("" if subset_seed is None else f"|{int(subset_seed)}")
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def subset_size(n: int, fraction: float) -> int:
    """round(fraction * n), at least 1 (halves round up)."""
    return max(1, min(n, int(math.floor(fraction * n + 0.5))))


def subset_indices(n: int, fraction: float, key: str, subset_seed: int | None = None) -> np.ndarray:
    """Sorted transition indices (K,) of the X% subset: uniform without replacement over N.

    ``fraction == 1`` gives every index in order.
    """
    fraction = check_fraction(fraction)
    if fraction == 1.0:
        return np.arange(n)
    rng = np.random.default_rng(subset_seed_for(key, fraction, subset_seed))
    return np.sort(rng.choice(n, size=subset_size(n, fraction), replace=False))


def state_stats(observations: np.ndarray, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d_s,) and std + 1e-3 (d_s,) of observations (N, d_s), or 0 and 1 if not normalizing."""
    d = observations.shape[1]
    if not normalize:
        return np.zeros(d, np.float32), np.ones(d, np.float32)
    obs = observations.astype(np.float64)
    return obs.mean(0).astype(np.float32), (obs.std(0) + STATE_STD_EPS).astype(np.float32)


def build(raw: RawTransitions, name: str, key: str, *, fraction: float = 1.0,
          subset_seed: int | None = None, normalize_states: bool = True) -> TransitionDataset:
    """Validate ``raw``, take its subset, normalize states and return the tensor dataset.

    ``key`` identifies the dataset for the subset hash (independent of file locations).
    """
    fraction = check_fraction(fraction)
    validate(raw, name)
    n = raw.observations.shape[0]
    idx = subset_indices(n, fraction, key, subset_seed)
    arrays = {k: np.asarray(getattr(raw, k))[idx].astype(np.float32) for k in _ARRAYS}
    mean, std = state_stats(arrays["observations"], normalize_states)
    for k in ("observations", "next_observations"):
        arrays[k] = (arrays[k] - mean) / std
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    info = {"source": raw.source, "key": key, "fraction": fraction, "subset_seed": subset_seed,
            "full_size": n, "normalize_states": normalize_states}
    return TransitionDataset(
        name=name, **tensors, obs_mean=torch.from_numpy(mean), obs_std=torch.from_numpy(std),
        action_low=torch.as_tensor(raw.action_low, dtype=torch.float32),
        action_high=torch.as_tensor(raw.action_high, dtype=torch.float32),
        reference=raw.reference, env_id=raw.env_id, info=info)


def concat(parts: list[RawTransitions], source: str) -> RawTransitions:
    """Concatenate datasets in order (medium ⊕ expert); bounds, reference and env from the first."""
    first = parts[0]
    for part in parts[1:]:
        if part.observations.shape[1:] != first.observations.shape[1:] or \
                part.actions.shape[1:] != first.actions.shape[1:]:
            raise ValueError(f"cannot concatenate {first.source} and {part.source}: shapes differ")
    arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in _ARRAYS}
    return dataclasses.replace(first, **arrays, source=source)


def content_sha256(raw: RawTransitions) -> str:
    """SHA-256 of the transitions as float32 little-endian bytes, in the order of ``_ARRAYS``.

    Independent of file format and library versions: two datasets with the same transitions have
    the same checksum.
    """
    digest = hashlib.sha256()
    for key in _ARRAYS:
        arr = np.ascontiguousarray(getattr(raw, key), dtype="<f4")
        digest.update(f"{key}{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()
