"""Diffusion-QL (Wang, Hunt & Zhou, ICLR 2023): a diffusion policy trained by behaviour cloning
plus Q-guidance, in one readable module.

Source: the paper and its official code, github.com/Zhendong-Wang/Diffusion-Policies-for-Offline-RL
("official" below: ``agents/ql_diffusion.py``, ``agents/diffusion.py``, ``agents/helpers.py``,
``agents/model.py``, ``main.py``).

Policy. Actions live in the unit box [−1, 1]^{d_a} inside the model (u = (a − c)/h for the
data's box with centre c and half-width h; the critic sees a = c + h·u). A VP schedule β_1..β_N
(:func:`vp_beta_schedule`, N = ``n_timesteps`` = 5), α_t = 1 − β_t, ᾱ_t = Π_{k≤t} α_k, and a
noise-prediction network ε_θ(u_t, t, s) define the reverse chain (official ``p_sample_loop``,
indices i = t − 1 = N−1 .. 0):

    u_N ~ N(0, I)
    û_0 = clip(u_t/√ᾱ_t − √(1/ᾱ_t − 1)·ε_θ(u_t, t, s), −1, 1)
    u_{t−1} = β_t √ᾱ_{t−1}/(1 − ᾱ_t)·û_0 + (1 − ᾱ_{t−1})√α_t/(1 − ᾱ_t)·u_t + 1[t > 1]·σ_t z,
    σ_t² = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t),  z ~ N(0, I);   a_0 = c + h·clip(u_0, −1, 1).

ε_θ is a :class:`seemlab.nets.MLP` (``actor_depth`` = 3 hidden layers of ``actor_width`` = 256,
Mish, as official) on [u_t, e(t), s], in_dim = d_a + t_dim + d_s, with e(t) the fixed sinusoidal
embedding of t (:func:`time_embedding`, t_dim = 16). Simplification: the official network passes
e(t) through a learnable MLP (16 → 32 → Mish → 16) first; ours feeds e(t) directly (with N = 5
there are only five distinct inputs, which the first layer can already separate).

Objective, per seed and minibatch of B transitions (s, a, r, s', d) (official ``train``):

    L_d = mean_{B, d_a} (ε − ε_θ(√ᾱ_t u + √(1 − ᾱ_t) ε, t, s))²,   t ~ U{1..N}, ε ~ N(0, I)
    L_π = bc_coef · L_d + η · L_q,
    L_q = −mean_B Q_1(s, a_0) / mean_B |Q_2(s, a_0)|  or, with probability ½, the same with
          Q_1 and Q_2 swapped (official: a coin per step; the denominator is stop-gradient),
          a_0 from the full reverse chain of the online ε_θ WITH gradient;
    y   = r + γ(1 − d) min_c Q̄_c(s', a'),   a' from the chain of the EMA ε_θ̄ (target policy);
          max_q_backup: a'_1..a'_10 per s' and y uses min_c max_k Q̄_c(s', a'_k) (official order:
          max over samples per critic, then min over critics);
    L_Q = Σ_c mean_B (Q_c(s, a) − y)².

L_d averages over the action axis too (official ``WeightedL2``: ``mse(reduction='none').mean()``),
so it is the paper's E‖ε − ε_θ‖² divided by d_a. ``bc_coef`` is the paper's diffusion-loss weight
(official: 1; Fig 7 of the SEEM paper varies it from 0.5 to 10).

Training details (official): twin Mish critics (3 × 256), Adam 3e-4 for both, γ 0.99, batch 256,
critic target EMA τ 0.005 every step; actor target EMA with decay 0.995 (τ_π 0.005) every 5
steps, only from step 1000 on (before that the target policy is the initial network); gradient
clipping to a per-task global norm (``grad_clip``: per seed, over both critics / over ε_θ);
optional cosine LR decay of both optimisers. Evaluation samples 50 actions and picks one by
min_c Q̄_c (official: softmax sampling; :meth:`DiffusionQL.act` takes the argmax).

Shapes: S seeds trained in lockstep, C = 2 critics per seed (members s·C, s·C + 1 of one
:class:`EnsembleMLP`), B batch, N diffusion steps; ensemble inputs are (S, B, d). Each seed draws
its t, ε, chain noise and coin from its own generator (:func:`member_seed` role 40), so a seed
gives the same numbers alone or in an ensemble (to float rounding).
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from seemlab.nets import ACTIVATIONS, MLP, EnsembleMLP
from seemlab.rl.base import (AgentConfig, Batch, check_data, ensemble_q, generator_states, grad_norm, lerp_targets,
                             make_optimizer, member_gammas, member_seed, set_generator_states)

ALGORITHMS = ("diffusion_ql",)

# member_seed roles (td3.py uses 0-8): each stream of a seed has its own.
TRAIN_NOISE_ROLE = 40  # t, ε, reverse-chain noise and the Q_1/Q_2 coin of the updates
POLICY_NOISE_ROLE = 41  # the fixed noise of policy_member (same noise at every call)
ACT_NOISE_ROLE = 42  # the fixed noise of act (best of samples by Q)
ACTOR_ROLE = 43  # ε_θ initialisation
CRITIC_ROLE = 44  # critic c of a seed: role 44 + c
TARGET_DROPOUT_ROLE = 46  # dropout masks of the target critics


# ============================================================================ config
@dataclass(frozen=True)
class DiffusionQLConfig(AgentConfig):
    """Every setting of a Diffusion-QL run; defaults are the official MuJoCo ones (hopper-medium-v2
    row of ``main.py``). Shared fields (steps, batch, γ, learning rates, critic options) are
    :class:`AgentConfig`'s; the critic defaults to the official 3 × 256 Mish twin critic."""

    algorithm: str = "diffusion_ql"
    critic_depth: int = 3
    """Official critic: 3 hidden layers of 256."""
    critic_activation: str = "mish"
    """Official critic activation."""
    actor_depth: int = 3
    """Hidden layers of ε_θ (official: 3 × 256)."""
    # --- diffusion policy
    n_timesteps: int = 5
    """N: diffusion steps (official ``--T 5``, VP schedule)."""
    t_dim: int = 16
    """Size of the sinusoidal time embedding e(t) (official ``t_dim``; even, >= 4)."""
    actor_activation: str = "mish"
    """Activation of ε_θ (official: Mish)."""
    # --- actor loss
    bc_coef: float = 1.0
    """Weight of the diffusion (BC) loss L_d in L_π (official: 1; paper Fig 7: 0.5 .. 10)."""
    eta: float = 1.0
    """η: weight of the Q term (official: 1.0 on every MuJoCo locomotion task)."""
    # --- critic target and targets' EMA
    tau: float = 0.005
    """τ: critic target EMA rate, every step (official ``--tau``)."""
    actor_ema_tau: float = 0.005
    """τ_π = 1 − ema_decay (official ema_decay 0.995): target policy EMA rate."""
    update_ema_every: int = 5
    """Target policy EMA every this many steps (official)."""
    step_start_ema: int = 1000
    """No target-policy EMA before this step: it stays the initial network (official)."""
    max_q_backup: bool = False
    """y from min_c max_k Q̄_c(s', a'_k) over ``q_backup_samples`` actions (official AntMaze)."""
    q_backup_samples: int = 10
    """Actions per s' of the max-Q backup (official: 10)."""
    # --- optimisation
    grad_clip: float = 9.0
    """Per-seed global gradient-norm clip of critics and ε_θ; 0 = off (official ``gn``:
    9.0 on hopper-medium-v2 and halfcheetah-medium-v2, 1.0 .. 9.0 on the other MuJoCo tasks)."""
    lr_decay: bool = False
    """Cosine decay of both learning rates to 0 over ``steps`` (see :data:`ANTMAZE`)."""
    eval_samples: int = 50
    """Actions sampled per state by :meth:`DiffusionQL.act` (official: 50)."""
    reward_scale: float = 1.0
    """r ← reward_scale · r in the critic's target (the SEEM paper's AntMaze: 10, "+10 on success")."""

    ALGORITHMS = ALGORITHMS

    @classmethod
    def schema(cls) -> dict:
        from seemlab.params import boolean, choice, integer, number

        weight, rate = number(0), number(0, 1, lo_open=True)
        return dict(super().schema(), n_timesteps=integer(min=1), t_dim=integer(min=4),
                    actor_activation=choice(*ACTIVATIONS), bc_coef=weight, eta=weight, tau=rate, actor_ema_tau=rate,
                    update_ema_every=integer(min=1), step_start_ema=integer(min=0), max_q_backup=boolean(),
                    q_backup_samples=integer(min=1), grad_clip=weight, lr_decay=boolean(),
                    eval_samples=integer(min=1), reward_scale=number(0, lo_open=True))

    def validate(self) -> None:
        super().validate()
        if self.t_dim % 2:
            raise ValueError(f"{type(self).__name__}.t_dim = {self.t_dim!r} is odd; allowed values: even integers >= 4")


CONFIG = DiffusionQLConfig

ANTMAZE = dict(eta=4.5, bc_coef=0.5, max_q_backup=True, grad_clip=10.0, lr_decay=True, reward_scale=10.0)
"""AntMaze overrides: official antmaze-large-play-v0 row of ``main.py`` (η 4.5, gn 10.0,
max_q_backup; lr 3e-4 is the default), the SEEM paper's ``diff_coef`` 0.5 for every AntMaze task
(its Fig 7 / Table 1) and lr decay (official README ``--lr_decay``). The official scheduler is a
cosine with T_max = epochs stepped once per 50 epochs, so it barely decays (< 0.3 %); ours decays
over ``steps`` as the paper describes. Rewards: the SEEM paper's "+10 on success, else 0"
(App. E), i.e. ``reward_scale`` 10 on the datasets' 0/1 sparse rewards (Diffusion-QL's own code
uses (r − 0.5)·4 instead). The per-task gradient clips of the SEEM code are
:data:`ANTMAZE_GRAD_CLIP` (10 here is large-play's)."""

ANTMAZE_GRAD_CLIP = {"umaze": 2.0, "umaze-diverse": 3.0, "medium-play": 2.0, "medium-diverse": 1.0,
                     "large-play": 10.0, "large-diverse": 7.0}
"""The SEEM paper's code (``hps.py``): global gradient-norm clip per AntMaze task."""


def preset(name: str = "diffusion_ql", **overrides) -> DiffusionQLConfig:
    """The official MuJoCo configuration (the config's defaults: Mish 3 × 256 critics, η 1, N 5,
    grad clip 9) with ``overrides`` (``**ANTMAZE`` for AntMaze)."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; allowed values: {', '.join(ALGORITHMS)}")
    return DiffusionQLConfig(**overrides)


# ============================================================================ the diffusion
def vp_beta_schedule(n: int) -> torch.Tensor:
    """β_1..β_n ``(n,)`` float32 of the discretised VP SDE (official ``vp_beta_schedule``):
    β_t = 1 − exp(−b_min/n − (b_max − b_min)(2t − 1)/(2n²)), b_min = 0.1, b_max = 10, so that
    ᾱ_t = exp(−b_min t/n − (b_max − b_min) t²/(2n²))."""
    t = np.arange(1, n + 1)
    b_max, b_min = 10.0, 0.1
    alpha = np.exp(-b_min / n - 0.5 * (b_max - b_min) * (2 * t - 1) / n**2)
    return torch.tensor(1 - alpha, dtype=torch.float32)


class Schedule(NamedTuple):
    """The chain's coefficients, each ``(N,)``; index i is diffusion step t = i + 1."""

    sqrt_abar: torch.Tensor  # √ᾱ_t
    sqrt_one_minus_abar: torch.Tensor  # √(1 − ᾱ_t)
    sqrt_recip_abar: torch.Tensor  # √(1/ᾱ_t)
    sqrt_recipm1_abar: torch.Tensor  # √(1/ᾱ_t − 1)
    post_coef_start: torch.Tensor  # β_t √ᾱ_{t−1} / (1 − ᾱ_t)
    post_coef_now: torch.Tensor  # (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t)
    post_std: torch.Tensor  # σ_t (log-variance clipped at 1e−20 as official)

    def to(self, device) -> Schedule:
        return Schedule(*(c.to(device) for c in self))


def make_schedule(betas: torch.Tensor) -> Schedule:
    """The :class:`Schedule` of ``betas (N,)`` (official ``Diffusion.__init__``)."""
    b = betas.double()
    alphas = 1 - b
    abar = torch.cumprod(alphas, 0)
    abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
    var = b * (1 - abar_prev) / (1 - abar)
    coefs = (abar.sqrt(), (1 - abar).sqrt(), (1 / abar).sqrt(), (1 / abar - 1).sqrt(),
             b * abar_prev.sqrt() / (1 - abar), (1 - abar_prev) * alphas.sqrt() / (1 - abar),
             (0.5 * var.clamp(min=1e-20).log()).exp())
    return Schedule(*(c.float() for c in coefs))


def time_embedding(n: int, dim: int) -> torch.Tensor:
    """e(t) ``(n, dim)`` for index i = 0..n−1: [sin(i ω_k), cos(i ω_k)], ω_k = 10000^{−k/(dim/2 − 1)}
    (official ``SinusoidalPosEmb``, which the network sees at the 0-based index)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
    angles = torch.arange(n, dtype=torch.float32)[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], -1)


NoiseModel = Callable[[torch.Tensor, "torch.Tensor | int", torch.Tensor], torch.Tensor]
"""ε_θ(u_t, i, s): ``(..., B, d_a)``, step index i (an int or ``(..., B)``), ``(..., B, d_s)`` ->
``(..., B, d_a)``."""


def noisy_action(sched: Schedule, u0: torch.Tensor, i: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """u_t = √ᾱ_t u_0 + √(1 − ᾱ_t) ε: ``u0, eps (..., B, d_a)``, step indices ``i (..., B)``
    (t = i + 1) -> ``(..., B, d_a)`` (official ``q_sample``)."""
    return sched.sqrt_abar[i].unsqueeze(-1) * u0 + sched.sqrt_one_minus_abar[i].unsqueeze(-1) * eps


def diffusion_loss(eps_model: NoiseModel, sched: Schedule, u0: torch.Tensor, obs: torch.Tensor, i: torch.Tensor,
                   eps: torch.Tensor) -> torch.Tensor:
    """L_d = mean over (B, d_a) of (ε − ε_θ(u_t, i, s))² for given ``i (..., B)`` and ``eps``
    (no randomness here): ``u0 (..., B, d_a)``, ``obs (..., B, d_s)`` -> ``(...)``."""
    pred = eps_model(noisy_action(sched, u0, i, eps), i, obs)
    return (pred - eps).pow(2).mean((-2, -1))


def reverse_step(sched: Schedule, u: torch.Tensor, i: int, eps_pred: torch.Tensor,
                 z: torch.Tensor | None) -> torch.Tensor:
    """u_{t−1} from u_t (t = i + 1) and ε_θ's prediction; ``z`` is the step's noise (None at i = 0)."""
    u0 = (sched.sqrt_recip_abar[i] * u - sched.sqrt_recipm1_abar[i] * eps_pred).clamp(-1.0, 1.0)
    mean = sched.post_coef_start[i] * u0 + sched.post_coef_now[i] * u
    return mean if z is None else mean + sched.post_std[i] * z


def reverse_chain(eps_model: NoiseModel, sched: Schedule, obs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """a_0 in the unit box ``(..., B, d_a)`` for ``obs (..., B, d_s)`` and ``noise (N, ..., B, d_a)``:
    ``noise[0]`` is u_N, ``noise[i]`` the noise of step i (i = N−1 .. 1). Differentiable."""
    u = noise[0]
    for i in reversed(range(len(sched.sqrt_abar))):
        u = reverse_step(sched, u, i, eps_model(u, i, obs), noise[i] if i > 0 else None)
    return u.clamp(-1.0, 1.0)


def noise_model_kwargs(cfg: DiffusionQLConfig, obs_dim: int, act_dim: int) -> dict:
    """:class:`seemlab.nets.MLP` arguments of ε_θ: ``(N, d_a + t_dim + d_s) -> (N, d_a)``."""
    return dict(in_dim=act_dim + cfg.t_dim + obs_dim, depth=cfg.actor_depth, width=cfg.actor_width,
                activation=cfg.actor_activation, out_dim=act_dim)


# ============================================================================ shared helpers
def clip_grads_(net: EnsembleMLP, member_norms: torch.Tensor, groups: int, max_norm: float) -> torch.Tensor:
    """Clip the gradient of each of ``groups`` consecutive member blocks of ``net`` to global norm
    ``max_norm`` (torch's ``clip_grad_norm_`` per block; 0 = no clipping), given the members'
    gradient norms ``(K,)`` (:func:`grad_norm`); returns the blocks' pre-clip norms ``(groups,)``.
    NaN gradients stay NaN (no error)."""
    norms = member_norms.view(groups, -1).pow(2).sum(1).sqrt()
    if max_norm > 0:
        coef = (max_norm / (norms + 1e-6)).clamp(max=1.0).repeat_interleave(net.K // groups)
        for p in net.stacked:
            p.grad.mul_(coef.view(-1, *[1] * (p.ndim - 1)))
    return norms


@contextmanager
def frozen(net: torch.nn.Module):
    """No gradients into ``net``'s parameters inside the block (the actor step's critic)."""
    net.requires_grad_(False)
    try:
        yield
    finally:
        net.requires_grad_(True)


# ============================================================================ agent
class DiffusionQL:
    """S seeds of Diffusion-QL trained in lockstep (see the module docstring).

    The constructor's arguments are those of :class:`seemlab.rl.td3.TD3` (built by ``make_trainer``).
    """

    C = 2

    def __init__(self, cfg: DiffusionQLConfig, obs_dim: int, act_dim: int, action_low: torch.Tensor,
                 action_high: torch.Tensor, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None):
        self.cfg, self.seeds, self.device = cfg, [int(s) for s in seeds], torch.device(device)
        self.S, self.act_dim = len(self.seeds), act_dim
        self.gammas = member_gammas(cfg, gammas, self.S, self.device)  # (S, 1)
        low = torch.as_tensor(action_low, dtype=torch.float32, device=self.device)
        high = torch.as_tensor(action_high, dtype=torch.float32, device=self.device)
        self.scale, self.center = (high - low) / 2, (high + low) / 2
        self.sched = make_schedule(vp_beta_schedule(cfg.n_timesteps)).to(self.device)
        self.temb = time_embedding(cfg.n_timesteps, cfg.t_dim).to(self.device)
        critic_seeds = [member_seed(s, CRITIC_ROLE + c) for s in self.seeds for c in range(self.C)]
        self.critic = EnsembleMLP.seeded(cfg.critic_kwargs(obs_dim + act_dim), critic_seeds).to(self.device)
        self.critic_target = copy.deepcopy(self.critic)
        if cfg.dropout > 0:
            self.critic_target.reseed_dropout([member_seed(s, TARGET_DROPOUT_ROLE) for s in critic_seeds])
        actor_seeds = [member_seed(s, ACTOR_ROLE) for s in self.seeds]
        self.actor = EnsembleMLP.seeded(noise_model_kwargs(cfg, obs_dim, act_dim), actor_seeds).to(self.device)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_opt = make_optimizer(self.critic.parameters(), cfg.critic_lr)
        self.actor_opt = make_optimizer(self.actor.parameters(), cfg.actor_lr)
        self.noise_gens = [torch.Generator().manual_seed(member_seed(s, TRAIN_NOISE_ROLE)) for s in self.seeds]
        self.step = 0
        self.info: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------- the policy
    def noise_model(self, net: EnsembleMLP, members: slice | None = None, detach: bool = False) -> NoiseModel:
        """ε_θ of ``net`` (online or target, some members) as a :data:`NoiseModel`."""
        def eps(u: torch.Tensor, i, obs: torch.Tensor) -> torch.Tensor:
            emb = self.temb[i]
            emb = emb.expand(*u.shape[:-1], -1) if emb.ndim == 1 else emb
            out = net(torch.cat([u, emb, obs], -1), members, detach)
            return out.unsqueeze(-1) if self.act_dim == 1 else out  # a 1-output MLP drops its last axis
        return eps

    def to_box(self, u: torch.Tensor) -> torch.Tensor:
        return self.center + self.scale * u

    def to_unit(self, a: torch.Tensor) -> torch.Tensor:
        return (a - self.center) / self.scale

    def chain_noise(self, generators: Sequence[torch.Generator], batch: int) -> torch.Tensor:
        """``(N, S', batch, d_a)`` standard normal noise of one chain, seed k's from ``generators[k]``."""
        return self.normal(generators, (self.cfg.n_timesteps, batch, self.act_dim)).movedim(1, 0)

    def normal(self, generators: Sequence[torch.Generator], shape: tuple) -> torch.Tensor:
        """``(S', *shape)`` standard normals, row k from ``generators[k]`` (on the CPU, then moved)."""
        return torch.stack([torch.randn(shape, generator=g) for g in generators]).to(self.device)

    def q(self, obs: torch.Tensor, act: torch.Tensor, target: bool = False) -> torch.Tensor:
        """``(S, B, d_s), (S, B, d_a) -> (S, C, B)`` critic values."""
        return ensemble_q(self.critic_target if target else self.critic, self.C, obs, act)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, samples: int | None = None) -> torch.Tensor:
        """``obs (S, B, d_s) -> (S, B, d_a)``: per state, the best of ``samples`` (default
        ``cfg.eval_samples``) chain samples by min_c Q̄_c (official evaluation, with argmax for
        the softmax draw; NaN values are never picked unless all are NaN). The noise is fixed
        (role 42, re-seeded at every call), so this is a deterministic function of ``obs``."""
        S, B, _ = obs.shape
        M = samples or self.cfg.eval_samples
        obs_rep = obs.repeat_interleave(M, 1)
        gens = [torch.Generator().manual_seed(member_seed(s, ACT_NOISE_ROLE)) for s in self.seeds]
        a = self.to_box(reverse_chain(self.noise_model(self.actor), self.sched, obs_rep, self.chain_noise(gens, B * M)))
        q = self.q(obs_rep, a, target=True).min(1).values.view(S, B, M)
        best = torch.where(q.isnan(), -math.inf, q).argmax(-1)  # (S, B)
        return a.view(S, B, M, -1).gather(2, best[..., None, None].expand(S, B, 1, self.act_dim)).squeeze(2)

    def q1_member(self, s: int) -> MLP:
        """Seed s's first critic as a standalone MLP (a copy)."""
        return self.critic.member(s * self.C)

    def policy_member(self, s: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Seed s's policy ``(N, d_s) -> (N, d_a)``: the reverse chain of the live ε_θ from FIXED
        noise (a generator re-seeded with role 41 at every call), so the same states give the same
        actions at every call: a deterministic function for the diagnostics. (Official evaluation
        samples fresh noise; see :meth:`act` for its best-of-samples rule.)"""
        model = self.noise_model(self.actor, slice(s, s + 1), detach=True)
        seed = member_seed(self.seeds[s], POLICY_NOISE_ROLE)

        def policy(obs: torch.Tensor) -> torch.Tensor:
            noise = self.chain_noise([torch.Generator().manual_seed(seed)], len(obs))
            with torch.no_grad():
                return self.to_box(reverse_chain(model, self.sched, obs.unsqueeze(0), noise)[0])
        return policy

    # ----------------------------------------------------------------- the update
    def td_target(self, rew: torch.Tensor, nobs: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        """``y: (S, B)`` from ``rew, term (S, B)``, ``nobs (S, B, d_s)``, with a' from the target policy."""
        cfg = self.cfg
        S, B, _ = nobs.shape
        R = cfg.q_backup_samples if cfg.max_q_backup else 1
        with torch.no_grad():
            nobs_rep = nobs.repeat_interleave(R, 1) if R > 1 else nobs  # (S, R·B, d_s), s'_b repeated R times
            u2 = reverse_chain(self.noise_model(self.actor_target), self.sched, nobs_rep,
                               self.chain_noise(self.noise_gens, R * B))
            tq = self.q(nobs_rep, self.to_box(u2), target=True)  # (S, C, R·B)
            if R > 1:
                tq = tq.view(S, self.C, B, R).amax(-1)
            return self.cfg.reward_scale * rew + self.gammas * (1.0 - term) * tq.min(1).values

    def critic_step(self, obs, act, rew, nobs, term) -> tuple[torch.Tensor, ...]:
        """One critic update (clipped); returns ``L_Q`` summed over seeds, the values ``(S, C, B)``
        and targets ``(S, 1, B)`` it was taken on (detached), and Q_1's pre-clip gradient norm ``(S,)``."""
        y = self.td_target(rew, nobs, term).unsqueeze(1)
        q = self.q(obs, act)
        loss = F.mse_loss(q, y.expand_as(q), reduction="sum") / q.shape[2]
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        member_norms = grad_norm(self.critic)  # before clipping
        clip_grads_(self.critic, member_norms, self.S, self.cfg.grad_clip)
        self.critic_opt.step()
        return loss.detach(), q.detach(), y, member_norms[:: self.C]

    def actor_losses(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-seed ``(L_d, η·L_q)``, each ``(S,)``, with fresh t, ε, chain noise and coin."""
        cfg = self.cfg
        S, B, _ = obs.shape
        steps = torch.stack([torch.randint(cfg.n_timesteps, (B,), generator=g) for g in self.noise_gens])
        eps = self.normal(self.noise_gens, (B, self.act_dim))
        model = self.noise_model(self.actor)
        bc = diffusion_loss(model, self.sched, self.to_unit(act), obs, steps.to(self.device), eps)
        a0 = self.to_box(reverse_chain(model, self.sched, obs, self.chain_noise(self.noise_gens, B)))
        with frozen(self.critic):
            q = self.q(obs, a0)  # (S, C, B)
        mean, mean_abs = q.mean(2), q.abs().mean(2).detach()  # (S, C)
        q1_first = torch.stack([torch.rand((), generator=g) > 0.5 for g in self.noise_gens]).to(self.device)
        q_loss = torch.where(q1_first, -mean[:, 0] / mean_abs[:, 1], -mean[:, 1] / mean_abs[:, 0])
        return bc, cfg.eta * q_loss

    def actor_step(self, obs, act) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One ε_θ update (clipped); returns per-seed ``(L_π, L_d, η·L_q, pre-clip grad norm)``."""
        bc, q_term = self.actor_losses(obs, act)
        loss = self.cfg.bc_coef * bc + q_term
        self.actor_opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        norms = clip_grads_(self.actor, grad_norm(self.actor), self.S, self.cfg.grad_clip)
        self.actor_opt.step()
        return loss.detach(), bc.detach(), q_term.detach(), norms

    def update_targets(self) -> None:
        """Critic target every step; target policy every ``update_ema_every`` steps from
        ``step_start_ema`` (official: checked on the 0-based step before it is counted)."""
        cfg, done = self.cfg, self.step - 1
        lerp_targets([(self.critic, self.critic_target)], cfg.tau)
        if done % cfg.update_ema_every == 0 and done >= cfg.step_start_ema:
            lerp_targets([(self.actor, self.actor_target)], cfg.actor_ema_tau)

    def set_learning_rates(self) -> None:
        """Cosine decay η_k = η_0 (1 + cos(π (k − 1)/T))/2 for update k of T (when ``lr_decay``)."""
        if not self.cfg.lr_decay:
            return
        factor = 0.5 * (1.0 + math.cos(math.pi * (self.step - 1) / self.cfg.steps))
        for opt, lr in ((self.critic_opt, self.cfg.critic_lr), (self.actor_opt, self.cfg.actor_lr)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def update(self, batch: Batch, *, info: bool = False, policy_batch: Batch | None = None) -> dict[str, float]:
        """One Diffusion-QL iteration (critic, then ε_θ, then targets) on per-seed minibatches.

        ``info=True`` also stores per-seed ``(S,)`` tensors in ``self.info``: critic_loss, q1_batch,
        critic_grad_norm (Q_1's, before clipping), actor_loss, actor_grad_norm (before clipping),
        bc_loss (L_d) and q_loss_term (η·L_q). ε_θ learns on ``policy_batch`` when given (OPER-R).
        """
        self.step += 1
        self.set_learning_rates()
        obs, act, rew, nobs, term = batch
        critic_loss, q, y, q1_norm = self.critic_step(obs, act, rew, nobs, term)
        pb = policy_batch or batch
        actor_loss, bc, q_term, actor_norms = self.actor_step(pb.obs, pb.act)
        self.update_targets()
        if info:
            self.info.update(critic_loss=((q - y) ** 2).mean(2).sum(1), q1_batch=q[:, 0].mean(1),
                             critic_grad_norm=q1_norm, actor_loss=actor_loss,
                             actor_grad_norm=actor_norms, bc_loss=bc, q_loss_term=q_term)
        return {"critic_loss": float(critic_loss) / self.S, "actor_loss": float(actor_loss.sum()) / self.S}

    # ----------------------------------------------------------------- resume
    NETWORKS = ("critic", "actor", "critic_target", "actor_target", "critic_opt", "actor_opt")

    def state_dict(self) -> dict:
        """Networks, targets, optimisers (with their learning rates), generators and the step."""
        state = {name: getattr(self, name).state_dict() for name in self.NETWORKS}
        return dict(state, noise_gens=generator_states(self.noise_gens), step=self.step,
                    dropout_gens=generator_states(self._dropout_generators()))

    def load_state_dict(self, state: dict) -> None:
        for name in self.NETWORKS:
            getattr(self, name).load_state_dict(state[name])
        set_generator_states(self.noise_gens, state["noise_gens"])
        set_generator_states(self._dropout_generators(), state["dropout_gens"])
        self.step = int(state["step"])

    def _dropout_generators(self) -> list[torch.Generator]:
        return self.critic.dropout_generators + self.critic_target.dropout_generators


def make_trainer(cfg: DiffusionQLConfig, data, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None) -> DiffusionQL:
    """A :class:`DiffusionQL` sized for ``data`` (a :class:`seemlab.data.TransitionDataset`)."""
    cfg.validate()
    check_data(data)
    return DiffusionQL(cfg, data.obs_dim, data.action_dim, data.action_low, data.action_high, seeds, device, gammas)
