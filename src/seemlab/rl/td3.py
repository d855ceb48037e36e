"""TD3, TD3+BC and the DDPG variants of Fig 12, in one readable module (CORL/CleanRL style).

Objective (Fujimoto & Gu 2021, TD3+BC; Fujimoto et al. 2018, TD3). For twin critics Q_1, Q_2,
target critics Q'_c and target actor π', per minibatch of B transitions (s, a, r, s', d):

    a'  = clip(π'(s') + clip(N(0, σ²), −c, c)·a_scale, box)      target smoothing (optional)
    y   = r + γ (1 − d) · min_c Q'_c(s', a')                     (Q'_1 only without double-Q)
    L_Q = Σ_c mean_B (Q_c(s, a) − y)²
    L_π = −λ · mean_B Q_1(s, π(s)) + β · mean_B ‖π(s) − a‖²,     λ = α / mean_B |Q_1(s, π(s))|

(``q_normalize=False`` uses λ = 1, plain TD3/DDPG.) Targets follow θ' ← τθ + (1 − τ)θ' on actor
steps; τ = 1 is the paper's "no EMA": the target is the current critic with stop-gradient
(SPEC R-SEEM, Ambiguity 25). When τ = 1 and ``policy_freq = 1`` the target *is* the current
network, so no copy is kept.

K seeds train together: every network is an :class:`EnsembleMLP`, K independently initialised
copies of one :class:`seemlab.nets.MLP` evaluated with batched matrix products. Seeds never mix:
each has its own initialisation, minibatch, noise and dropout streams, so seed s gives the same
numbers alone or in an ensemble (to float rounding). Shapes: S seeds, C critics per seed (2, or
1 without double-Q), B batch, d_s / d_a state and action sizes; ensemble inputs are (K, B, d).

The trainer implements :class:`seemlab.rl.base.Trainer`; :func:`seemlab.rl.base.train` is its
training loop and :mod:`seemlab.diagnostics` a callback of it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from seemlab.nets import MLP, EnsembleMLP
from seemlab.rl.base import (OPTIMIZERS, AgentConfig, Batch, check_data, ensemble_q, grad_norm, lerp_targets,
                             make_optimizer, member_gammas, member_seed)

ALGORITHMS = ("td3", "td3_bc", "ddpg")


# ============================================================================ config
@dataclass(frozen=True)
class TD3Config(AgentConfig):
    """Every setting of a TD3-family run; defaults are TD3+BC (Fujimoto & Gu 2021). The shared
    fields (steps, batch size, γ, learning rates, critic options) are :class:`AgentConfig`'s."""

    algorithm: str = "td3_bc"
    """Label of the family: "td3", "td3_bc" or "ddpg" (see :func:`preset`)."""
    tau: float = 0.005
    """τ: target EMA rate in (0, 1]; 1 = no EMA (target := current critic, stop-grad)."""
    policy_freq: int = 2
    """d: actor and target updates every d critic steps."""
    double_q: bool = True
    """Twin critics with min in the target (off: one critic, DDPG)."""
    target_smoothing: bool = True
    """Target-policy smoothing noise on a'."""
    policy_noise: float = 0.2
    """σ: smoothing noise std, in units of the action scale."""
    noise_clip: float = 0.5
    """c: smoothing noise clip, in units of the action scale."""
    # --- TD3+BC actor loss
    alpha: float = 2.5
    """α: λ = α / mean|Q| when q_normalize."""
    bc_weight: float = 1.0
    """β: behaviour-cloning weight (0 = no policy constraint, the SEEM runs)."""
    q_normalize: bool = True
    """Divide the actor's Q term by mean|Q| (TD3+BC); off = plain TD3."""
    # --- optimisers
    optimizer: str = "adam"
    """"adam" (AdamW when weight_decay > 0) or "sgd"."""
    adam_betas: tuple[float, float] = (0.9, 0.999)
    """(β₁, β₂) of Adam."""
    weight_decay: float = 0.0
    """Decoupled (AdamW) weight decay of the critic."""

    ALGORITHMS = ALGORITHMS

    @classmethod
    def schema(cls) -> dict:
        from seemlab.params import boolean, choice, integer, number, sequence_of

        weight = number(0)
        return dict(super().schema(), tau=number(0, 1, lo_open=True), policy_freq=integer(min=1), double_q=boolean(),
                    target_smoothing=boolean(), policy_noise=weight, noise_clip=weight, alpha=weight,
                    bc_weight=weight, q_normalize=boolean(), optimizer=choice(*OPTIMIZERS),
                    adam_betas=sequence_of(number(0, 1, hi_open=True), length=2), weight_decay=weight)


CONFIG = TD3Config


def validate(cfg: TD3Config) -> None:
    """Raise a one-line ``ValueError`` naming the first bad field (see :meth:`AgentConfig.validate`)."""
    cfg.validate()


PRESETS: dict[str, dict] = {
    # Fujimoto et al. 2018: no BC term, plain Q in the actor loss.
    "td3": dict(algorithm="td3", bc_weight=0.0, q_normalize=False),
    # Fujimoto & Gu 2021 (the defaults).
    "td3_bc": dict(algorithm="td3_bc"),
    # Fig 12's base (SPEC Ambiguity 34, our choice): TD3+BC without double-Q, smoothing, delay.
    "ddpg": dict(algorithm="ddpg", double_q=False, target_smoothing=False, policy_freq=1),
}


def preset(name: str, **overrides) -> TD3Config:
    """A named configuration (one of :data:`PRESETS`) with ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown algorithm {name!r}; allowed values: {', '.join(PRESETS)}")
    return TD3Config(**{**PRESETS[name], **overrides})


# ============================================================================ networks
def actor_kwargs(cfg: TD3Config, obs_dim: int, act_dim: int) -> dict:
    """:class:`seemlab.nets.MLP` arguments of the actor (π: (N, d_s) -> (N, d_a) in [−1, 1])."""
    return dict(in_dim=obs_dim, depth=cfg.actor_depth, width=cfg.actor_width, out_dim=act_dim,
                out_activation="tanh")


def td3_optimizer(params, cfg: TD3Config, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    return make_optimizer(params, lr, kind=cfg.optimizer, betas=cfg.adam_betas, weight_decay=weight_decay)


# ============================================================================ agent
class TD3:
    """S seeds of a TD3-family agent trained in lockstep.

    Args:
        cfg: the configuration.
        obs_dim, act_dim: d_s, d_a.
        action_low, action_high: ``(d_a,)`` the action box.
        seeds: the S seeds; seed s initialises its critics with seeds (s, c) and its actor with s.
        device: where the networks live.
        gammas: per-member discounts (S,) overriding ``cfg.gamma`` (a γ sweep in one ensemble).
    """

    def __init__(self, cfg: TD3Config, obs_dim: int, act_dim: int, action_low: torch.Tensor,
                 action_high: torch.Tensor, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None):
        self.cfg, self.seeds, self.device = cfg, [int(s) for s in seeds], torch.device(device)
        self.S, self.C = len(self.seeds), 2 if cfg.double_q else 1
        self.gammas = member_gammas(cfg, gammas, self.S, self.device)  # (S, 1)
        self.low = torch.as_tensor(action_low, dtype=torch.float32, device=self.device)
        self.high = torch.as_tensor(action_high, dtype=torch.float32, device=self.device)
        self.scale, self.center = (self.high - self.low) / 2, (self.high + self.low) / 2
        self.unit_box = bool((self.low == -1).all() and (self.high == 1).all())
        critic_seeds = [member_seed(s, 1 + c) for s in self.seeds for c in range(self.C)]
        self.critic = EnsembleMLP.seeded(cfg.critic_kwargs(obs_dim + act_dim), critic_seeds).to(self.device)
        self.actor = EnsembleMLP.seeded(actor_kwargs(cfg, obs_dim, act_dim), [member_seed(s, 0) for s in self.seeds])
        self.actor.to(self.device)
        self.alias_targets = cfg.tau == 1.0 and cfg.policy_freq == 1
        self.critic_target = self.critic if self.alias_targets else copy.deepcopy(self.critic)
        if not self.alias_targets and cfg.dropout > 0:
            self.critic_target.reseed_dropout([member_seed(s, 8) for s in critic_seeds])
        self.actor_target = self.actor if self.alias_targets else copy.deepcopy(self.actor)
        self.critic_opt = td3_optimizer(self.critic.parameters(), cfg, cfg.critic_lr, cfg.weight_decay)
        self.actor_opt = td3_optimizer(self.actor.parameters(), cfg, cfg.actor_lr)
        # Q1 of every seed, detached views of the live weights (the optimiser updates in place):
        # the actor step reads them without slicing and detaching six tensors per call.
        self._q1_params = self.critic.params(slice(0, None, self.C), detach=True)
        self.noise_gens = [torch.Generator().manual_seed(member_seed(s, 7)) for s in self.seeds]
        self.step = 0
        self.info: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------- evaluation helpers
    def act(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """``obs: (S, B, d_s) -> (S, B, d_a)`` actions in the box."""
        net = self.actor_target if target else self.actor
        return net(obs) if self.unit_box else self.center + self.scale * net(obs)

    def q(self, obs: torch.Tensor, act: torch.Tensor, target: bool = False) -> torch.Tensor:
        """``(S, B, d_s), (S, B, d_a) -> (S, C, B)`` critic values."""
        return ensemble_q(self.critic_target if target else self.critic, self.C, obs, act)

    def q1_member(self, s: int) -> MLP:
        """Seed s's first critic as a standalone MLP (a copy)."""
        return self.critic.member(s * self.C)

    def policy_member(self, s: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Seed s's policy as a function ``(N, d_s) -> (N, d_a)`` (reads the live weights)."""
        sl = slice(s, s + 1)
        return lambda obs: self.center + self.scale * self.actor(obs.unsqueeze(0), members=sl, detach=True)[0]

    # ----------------------------------------------------------------- the update
    def td_target(self, rew: torch.Tensor, nobs: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        """``y: (S, B)`` from rewards and terminals ``(S, B)`` and next states ``(S, B, d_s)``."""
        cfg = self.cfg
        with torch.no_grad():
            a2 = self.act(nobs, target=True)
            if cfg.target_smoothing:
                noise = torch.stack([torch.randn(a2.shape[1:], generator=g) for g in self.noise_gens])
                noise = noise.mul_(cfg.policy_noise).clamp_(-cfg.noise_clip, cfg.noise_clip).to(self.device)
                if self.unit_box:  # scalar bounds: fewer ops on the hot path
                    a2 = a2.add_(noise).clamp_(-1.0, 1.0)
                else:
                    a2 = torch.clamp(a2 + noise * self.scale, self.low, self.high)
            tq = self.q(nobs, a2, target=True)
            tq = tq.min(dim=1).values if cfg.double_q else tq[:, 0]
            return rew + self.gammas * (1.0 - term) * tq

    def critic_step(self, obs, act, rew, nobs, term) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One critic update; returns its loss ``L_Q`` summed over seeds, and the critic values
        ``(S, C, B)`` and targets ``(S, 1, B)`` it was taken on (all detached)."""
        y = self.td_target(rew, nobs, term).unsqueeze(1)
        q = self.q(obs, act)
        loss = F.mse_loss(q, y.expand_as(q), reduction="sum") / q.shape[2]
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return loss.detach(), q.detach(), y

    def actor_step(self, obs, act) -> torch.Tensor:
        """One actor update (critic weights frozen); returns the per-seed loss ``(S,)``."""
        cfg = self.cfg
        pi = self.act(obs)
        x = torch.cat([obs, pi], -1)
        q1 = self.critic.forward_params(self._q1_params, x, self.critic.dropout_generators[:: self.C])
        lmbda = cfg.alpha / q1.abs().mean(1).detach() if cfg.q_normalize else torch.ones_like(q1[:, 0])
        loss = -lmbda * q1.mean(1) + cfg.bc_weight * ((pi - act) ** 2).mean((1, 2))
        self.actor_opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.actor_opt.step()
        return loss.detach()

    def update_targets(self) -> None:
        """θ' ← τθ + (1 − τ)θ' for critic and actor (nothing when the targets are aliases)."""
        if self.alias_targets:
            return
        lerp_targets([(self.critic, self.critic_target), (self.actor, self.actor_target)], self.cfg.tau)

    def update(self, batch: Batch, *, info: bool = False, policy_batch: Batch | None = None) -> dict[str, float]:
        """One TD3 iteration on per-seed minibatches (leading axis S); returns float metrics.

        ``info=True`` also stores per-seed tensors (losses, batch Q1, gradient norms) in
        ``self.info`` for the diagnostics. The actor learns on ``policy_batch`` when given (OPER-R).
        """
        self.step += 1
        obs, act, rew, nobs, term = batch
        critic_loss, q, y = self.critic_step(obs, act, rew, nobs, term)
        if info:
            self.info["critic_grad_norm"] = grad_norm(self.critic)[:: self.C]
            self.info["critic_loss"] = ((q - y) ** 2).mean(2).sum(1)
            self.info["q1_batch"] = q[:, 0].mean(1)
        out = {"critic_loss": float(critic_loss) / self.S}
        if self.step % self.cfg.policy_freq == 0:
            pb = policy_batch or batch
            actor_loss = self.actor_step(pb.obs, pb.act)
            self.update_targets()
            if info:
                self.info["actor_grad_norm"] = grad_norm(self.actor)
                self.info["actor_loss"] = actor_loss
            out["actor_loss"] = float(actor_loss.sum()) / self.S
        return out

    # ----------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        """Networks, targets, optimisers, noise generators and the step counter."""
        return {
            "critic": self.critic.state_dict(), "actor": self.actor.state_dict(),
            "critic_target": self.critic_target.state_dict(), "actor_target": self.actor_target.state_dict(),
            "critic_opt": self.critic_opt.state_dict(), "actor_opt": self.actor_opt.state_dict(),
            "noise_gens": [g.get_state() for g in self.noise_gens], "step": self.step,
            "dropout_gens": [g.get_state() for g in self._dropout_generators()],
        }

    def load_state_dict(self, state: dict) -> None:
        for name in ("critic", "actor", "critic_target", "actor_target", "critic_opt", "actor_opt"):
            getattr(self, name).load_state_dict(state[name])
        for g, s in zip(self.noise_gens + self._dropout_generators(), state["noise_gens"] + state["dropout_gens"]):
            g.set_state(s)
        self.step = int(state["step"])

    def _dropout_generators(self) -> list[torch.Generator]:
        own = self.critic.dropout_generators
        return own if self.alias_targets else own + self.critic_target.dropout_generators


def make_trainer(cfg: TD3Config, data, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None) -> TD3:
    """A :class:`TD3` sized for ``data`` (a :class:`seemlab.data.TransitionDataset`)."""
    cfg.validate()
    check_data(data)
    return TD3(cfg, data.obs_dim, data.action_dim, data.action_low, data.action_high, seeds, device, gammas)
