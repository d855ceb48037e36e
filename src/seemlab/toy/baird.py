"""Baird's counterexample (Baird 1995; paper App. F.5, Figure 14), linear vs LayerNorm.

Seven states, eight features: ``φ(s) = 2e_s + e_8`` for s < 6 (0-based) and
``φ(6) = e_7 + 2e_8``. Every reward is 0 and the target policy always moves to state 7 (index
6), so the true value is 0 everywhere. Off-policy semi-gradient TD with states sampled
uniformly and updates scaled by the importance ratio 7 (the authors' notebook)::

    s ~ U{0..6},   δ = γ Q(s₇) − Q(s),   θ ← θ + 7α · δ · ∇_θ Q(s)

Arms (SPEC Figure 14; :data:`ARMS`):

- ``"linear"``: ``Q(s) = w·φ(s)``, ``w₀ = (1,1,1,1,1,1,10,1)``. Diverges.
- ``"ln"``: Linear(8→8, W = I + 0.1·N, no bias) → LayerNorm (no affine) → Linear(8→1, w₀, no
  bias). The paper's fix, LN "in front of" the linear head. Stays bounded.
- ``"ln_features"``: LN (no affine) of the fixed features, then the linear head (control).
- ``"ln_features_affine"``: the same with LN's affine parameters (control).
- ``"ln_affine"``: the ``"ln"`` arm with LN's affine parameters (control; step-size sensitive).

Shapes: ``Q: (7,)`` per step, logs ``(T,)`` or ``(T, 7)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seemlab.toy.nav import single_thread

ARMS = ("linear", "ln", "ln_features", "ln_features_affine", "ln_affine")
N_STATES, N_FEATURES = 7, 8
W0 = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 10.0, 1.0)


@dataclass(frozen=True)
class BairdConfig:
    """One Baird run (plain data)."""

    arm: str = "linear"
    """Which approximator, one of :data:`ARMS`."""
    alpha: float = 0.01
    """α; each update is scaled by 7α (importance ratio 7)."""
    gamma: float = 0.99
    """γ, discount factor."""
    steps: int = 1000
    """Number of TD updates."""
    seed: int = 0
    """Seeds the state sampling and the ``I + 0.1·N`` initialisation."""
    blowup: float = 1e6
    """A run counts as diverged once ‖θ‖ exceeds this (or is non-finite)."""


@dataclass
class BairdRun:
    """``steps: (T,)``, ``theta_norm: (T,)`` (all parameters), ``q: (T, 7)`` logged before each
    update; ``diverged_step``: first ‖θ‖ > blowup or non-finite (the run stops at non-finite).
    """

    config: BairdConfig
    steps: np.ndarray
    theta_norm: np.ndarray
    q: np.ndarray
    diverged_step: int | None


def features(dtype=torch.float64) -> torch.Tensor:
    """Baird's feature matrix ``(7, 8)``."""
    phi = torch.zeros(N_STATES, N_FEATURES, dtype=dtype)
    phi[torch.arange(6), torch.arange(6)] = 2.0
    phi[:6, 7] = 1.0
    phi[6, 6], phi[6, 7] = 1.0, 2.0
    return phi


def make_model(arm: str, seed: int) -> nn.Module:
    """The approximator of ``arm``: ``(N, 8) -> (N, 1)``, float64 (see the module docstring)."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; allowed values: {', '.join(ARMS)}")
    head = nn.Linear(N_FEATURES, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([W0], dtype=torch.float64))
    if arm == "linear":
        return head
    affine = arm.endswith("affine")
    norm = nn.LayerNorm(N_FEATURES, elementwise_affine=affine, dtype=torch.float64)
    if arm.startswith("ln_features"):
        return nn.Sequential(norm, head)
    g = torch.Generator().manual_seed(seed)
    mix = nn.Linear(N_FEATURES, N_FEATURES, bias=False, dtype=torch.float64)
    with torch.no_grad():
        eye = torch.eye(N_FEATURES, dtype=torch.float64)
        mix.weight.copy_(eye + 0.1 * torch.randn(N_FEATURES, N_FEATURES, generator=g, dtype=torch.float64))
    return nn.Sequential(mix, norm, head)


def run(cfg: BairdConfig) -> BairdRun:
    """Off-policy semi-gradient TD on Baird's counterexample; stops cleanly if θ overflows."""
    with single_thread():
        return _run(cfg)


def _run(cfg: BairdConfig) -> BairdRun:
    model = make_model(cfg.arm, cfg.seed)
    params = list(model.parameters())
    phi = features()
    states = np.random.default_rng(cfg.seed).integers(N_STATES, size=cfg.steps)
    norms, qs = [], []
    for t in range(cfg.steps):
        with torch.no_grad():
            q_all = model(phi).squeeze(-1)
            norms.append(float(torch.sqrt(sum((p**2).sum() for p in params))))
        qs.append(q_all.numpy().copy())
        if not (np.isfinite(norms[-1]) and np.all(np.isfinite(qs[-1]))):
            break
        s = int(states[t])
        q_s = model(phi[s : s + 1]).squeeze()
        delta = cfg.gamma * q_all[6] - q_s.detach()
        grads = torch.autograd.grad(q_s, params)
        with torch.no_grad():
            torch._foreach_add_(params, [g * delta for g in grads], alpha=N_STATES * cfg.alpha)
    theta = np.asarray(norms)
    over = np.flatnonzero(~(theta <= cfg.blowup))
    return BairdRun(cfg, np.arange(theta.size), theta, np.asarray(qs), int(over[0]) if over.size else None)
