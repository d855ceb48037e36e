"""Soft Actor-Critic (Haarnoja et al. 2018) as an offline, seed-batched trainer: the base of CQL.

Objective. A tanh-squashed Gaussian policy π_φ, twin critics Q_1, Q_2 with EMA targets Q̄_c and a
temperature α = exp(log α) per seed; per minibatch of B transitions (s, a, r, s', d) of the data:

    ã = c + h ⊙ tanh(μ_φ(s) + σ_φ(s) ⊙ ε),  ε ~ N(0, I)        c, h: the action box's centre, half-width
    log π(ã|s) = Σ_j [log N(u_j; μ_j, σ_j) − log(1 − tanh² u_j) − log h_j],  u = μ + σ ⊙ ε
    y    = r + γ (1 − d) · (min_c Q̄_c(s', a') − α · log π(a'|s')),  a' ~ π(·|s')
           (the "− α log π" term only with ``backup_entropy``)
    L_Q  = Σ_c mean_B (Q_c(s, a) − y)²
    L_π  = mean_B (α · log π(ã|s) − min_c Q_c(s, ã))
    L_α  = −log α · (mean_B log π(ã|s) + H̄),  H̄ = −d_a                (``autotune_alpha``)
    θ̄   ← τ θ + (1 − τ) θ̄  after every update

The log-std is squashed into [LOG_STD_MIN, LOG_STD_MAX] (CleanRL's bounds, the project's SAC
convention). L_α is written with log α, not α, as in the SAC authors' softlearning and in every
CQL code base (official rlkit, CORL, sail-sg/offbench): its gradient does not shrink with α. As
in those CQL code bases, all losses of an update are taken at the parameters before it
(gradients first, then every optimiser steps), and α in L_π and y is the value before the update.

Online SAC (:mod:`seemlab.rl.sac`, CleanRL's ``sac_continuous_action.py``) uses the same trainer
with four options whose defaults keep the above: ``critic_first`` (the critics step first and L_π
is taken on the updated critics), ``policy_frequency`` k (the actor and α step only every k-th
update, then k times in a row, each on a fresh ã), ``target_frequency`` (the EMA every that many
updates) and ``alpha_loss="exp"`` (L_α = −α · (mean_B log π(ã|s) + H̄), CleanRL's form).

Shapes: S seeds trained in lockstep, C = 2 critics per seed (ensemble members s·C + c), B batch,
d_s / d_a state and action sizes. Every network is a :class:`seemlab.nets.EnsembleMLP`; each seed
has its own initialisation, minibatch, policy noise and dropout streams, so a seed gives the same
numbers alone or in an ensemble (to float rounding). :class:`SAC` implements
:class:`seemlab.rl.base.Trainer`; subclasses (:class:`seemlab.rl.cql.CQL`) change the critic loss
through :meth:`SAC.critic_loss` and may add scalar parameters/optimisers to ``self.scalars`` /
``self.optimizers``, which :meth:`SAC.update` steps and :meth:`SAC.state_dict` saves.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from seemlab.nets import MLP, EnsembleMLP
from seemlab.rl.base import (AgentConfig, Batch, check_data, ensemble_q, generator_states, grad_norm, lerp_targets,
                             make_optimizer, member_gammas, member_seed, set_generator_states)

ALGORITHMS = ("sac_offline",)
N_CRITICS = 2
"""C: twin critics (min in the target and in the actor loss)."""

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
"""Bounds of the actor's log σ (CleanRL's)."""
ALPHA_LOSSES = ("log", "exp")
"""Forms of L_α: with log α (softlearning, the CQL code bases) or with α (CleanRL)."""

# member_seed roles (td3.py uses 0-3, 7, 8; the Sampler 3): actor, critic c, policy noise, target dropout.
ROLE_ACTOR, ROLE_CRITIC, ROLE_NOISE, ROLE_TARGET_DROPOUT = 30, 31, 35, 38


# ============================================================================ config
@dataclass(frozen=True)
class SACOfflineConfig(AgentConfig):
    """Offline SAC. Shared fields (steps, batch size, γ, learning rates, critic options) are
    :class:`AgentConfig`'s; the actor learning rate η_π also drives log α."""

    algorithm: str = "sac_offline"
    """The algorithm's name."""
    tau: float = 0.005
    """τ: target EMA rate in (0, 1]."""
    init_alpha: float = 1.0
    """α₀: initial temperature (1 = log α₀ = 0, as the CQL code bases)."""
    autotune_alpha: bool = True
    """Learn log α towards the target entropy (off: α = α₀ fixed)."""
    target_entropy: float | None = None
    """H̄: target entropy; None = −d_a."""
    backup_entropy: bool = True
    """Keep −α log π(a'|s') in the TD target (SAC; CQL's MuJoCo setting drops it)."""
    # --- the update schedule (defaults: the CQL code bases; online SAC sets CleanRL's)
    critic_first: bool = False
    """Step the critics first, then take L_π on the updated critics (CleanRL); off: every loss at
    the parameters before the update."""
    policy_frequency: int = 1
    """k: the actor and α step every k-th update, k times in a row (CleanRL's delay; k > 1 needs
    ``critic_first``)."""
    target_frequency: int = 1
    """The target EMA every this many updates."""
    alpha_loss: str = "log"
    """L_α with log α ("log") or with α ("exp", CleanRL)."""

    ALGORITHMS = ALGORITHMS

    @classmethod
    def schema(cls) -> dict:
        from seemlab.params import boolean, choice, integer, number

        return dict(super().schema(), tau=number(0, 1, lo_open=True), init_alpha=number(0, lo_open=True),
                    autotune_alpha=boolean(), target_entropy=number(optional="−d_a"), backup_entropy=boolean(),
                    critic_first=boolean(), policy_frequency=integer(min=1), target_frequency=integer(min=1),
                    alpha_loss=choice(*ALPHA_LOSSES))

    def validate(self) -> None:
        super().validate()
        if self.policy_frequency > 1 and not self.critic_first:
            raise ValueError(f"{type(self).__name__}.policy_frequency = {self.policy_frequency} needs "
                             f"critic_first = True (a delayed actor steps after the critics)")


CONFIG = SACOfflineConfig
PRESETS: dict[str, dict] = {"sac_offline": {}}


def preset(name: str, **overrides) -> SACOfflineConfig:
    """A named configuration (one of :data:`PRESETS`) with ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown algorithm {name!r}; allowed values: {', '.join(PRESETS)}")
    return SACOfflineConfig(**{**PRESETS[name], **overrides})


# ============================================================================ the policy
def actor_kwargs(cfg: AgentConfig, obs_dim: int, act_dim: int) -> dict:
    """:class:`seemlab.nets.MLP` arguments of the actor: ``(N, d_s) -> (N, 2·d_a)`` = [μ | raw log σ]."""
    return dict(in_dim=obs_dim, depth=cfg.actor_depth, width=cfg.actor_width, out_dim=2 * act_dim)


def squash_log_std(raw: torch.Tensor) -> torch.Tensor:
    """Raw network output -> log σ in [LOG_STD_MIN, LOG_STD_MAX] (CleanRL's smooth squashing)."""
    return LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1)


def tanh_gaussian_sample(mean: torch.Tensor, log_std: torch.Tensor, noise: torch.Tensor, center: torch.Tensor,
                         scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised actions and their log-density in the action box.

    ``mean, log_std, noise: (..., d_a)``, ``center, scale: (d_a,)`` -> actions ``(..., d_a)`` =
    c + h ⊙ tanh(u), u = μ + σ ⊙ ε, and ``log π: (...)`` with the tanh and box Jacobians; the
    tanh one in the stable form log(1 − tanh² u) = 2 (log 2 − u − softplus(−2u)).
    """
    pre = mean + log_std.exp() * noise
    log_normal = -0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
    log_jac = 2.0 * (math.log(2.0) - pre - F.softplus(-2.0 * pre)) + scale.log()
    return center + scale * torch.tanh(pre), (log_normal - log_jac).sum(-1)


# ============================================================================ agent
class SAC:
    """S seeds of offline SAC trained in lockstep (see the module docstring).

    The constructor's arguments are those of :class:`seemlab.rl.td3.TD3` (built by ``make_trainer``).
    """

    def __init__(self, cfg: SACOfflineConfig, obs_dim: int, act_dim: int, action_low: torch.Tensor,
                 action_high: torch.Tensor, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None):
        self.cfg, self.seeds, self.device = cfg, [int(s) for s in seeds], torch.device(device)
        self.S, self.C, self.act_dim = len(self.seeds), N_CRITICS, act_dim
        self.gammas = member_gammas(cfg, gammas, self.S, self.device)  # (S, 1)
        low = torch.as_tensor(action_low, dtype=torch.float32, device=self.device)
        high = torch.as_tensor(action_high, dtype=torch.float32, device=self.device)
        self.low, self.high = low, high
        self.scale, self.center = (high - low) / 2, (high + low) / 2
        self.target_entropy = -float(act_dim) if cfg.target_entropy is None else float(cfg.target_entropy)
        critic_seeds = [member_seed(s, ROLE_CRITIC + c) for s in self.seeds for c in range(self.C)]
        self.critic = EnsembleMLP.seeded(cfg.critic_kwargs(obs_dim + act_dim), critic_seeds).to(self.device)
        self.critic_target = copy.deepcopy(self.critic)
        if cfg.dropout > 0:  # the target must not replay the online critic's masks
            self.critic_target.reseed_dropout([member_seed(s, ROLE_TARGET_DROPOUT) for s in critic_seeds])
        actor_seeds = [member_seed(s, ROLE_ACTOR) for s in self.seeds]
        self.actor = EnsembleMLP.seeded(actor_kwargs(cfg, obs_dim, act_dim), actor_seeds).to(self.device)
        # Critic weights as detached views of the live tensors (the optimiser updates in place):
        # the actor loss reads them without building a graph into the critic.
        self._frozen_critic = self.critic.params(detach=True)
        log_alpha = torch.full((self.S,), math.log(cfg.init_alpha), device=self.device)
        self.scalars: dict[str, torch.Tensor] = {"log_alpha": log_alpha.requires_grad_(cfg.autotune_alpha)}
        # log α learns at the actor's rate (as in every reference), so it shares the actor's Adam
        # (element-wise: the same arithmetic as its own, one kernel call fewer per update).
        actor_params = [*self.actor.parameters(), *([self.scalars["log_alpha"]] if cfg.autotune_alpha else [])]
        self.optimizers: dict[str, torch.optim.Optimizer] = {
            "actor": make_optimizer(actor_params, cfg.actor_lr),
            "critic": make_optimizer(self.critic.parameters(), cfg.critic_lr)}
        self.noise_gens = [torch.Generator().manual_seed(member_seed(s, ROLE_NOISE)) for s in self.seeds]
        self.step = 0
        self.info: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------- the policy and the critics
    @property
    def alpha(self) -> torch.Tensor:
        """α per seed ``(S,)`` (detached)."""
        return self.scalars["log_alpha"].detach().exp()

    def policy_stats(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs: (S, B, d_s)`` -> μ and log σ ``(S, B, d_a)`` of the pre-tanh Gaussian."""
        mean, raw = self.actor(obs).chunk(2, dim=-1)
        return mean, squash_log_std(raw)

    def normal(self, shape: Sequence[int], generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
        """Standard normal noise ``(S, *shape)``, seed s's from its own generator."""
        gens = self.noise_gens if generators is None else generators
        return torch.stack([torch.randn(tuple(shape), generator=g) for g in gens]).to(self.device)

    def sample(self, stats: tuple[torch.Tensor, torch.Tensor], n: int | None = None,
               generators: Sequence[torch.Generator] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions and log π from μ, log σ ``(S, B, d_a)``: one per state ``(S, B, d_a), (S, B)``, or
        ``n`` per state ``(S, B, n, d_a), (S, B, n)``."""
        mean, log_std = stats
        if n is None:
            return tanh_gaussian_sample(mean, log_std, self.normal(mean.shape[1:], generators), self.center, self.scale)
        noise = self.normal((mean.shape[1], n, self.act_dim), generators)
        return tanh_gaussian_sample(mean.unsqueeze(2), log_std.unsqueeze(2), noise, self.center, self.scale)

    def q(self, obs: torch.Tensor, act: torch.Tensor, target: bool = False) -> torch.Tensor:
        """``(S, M, d_s), (S, M, d_a) -> (S, C, M)`` critic values."""
        return ensemble_q(self.critic_target if target else self.critic, self.C, obs, act)

    def q_frozen(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """:meth:`q` with the critics' weights detached ``(S, C, M)``: gradients reach only ``act``."""
        x = torch.cat([obs, act], -1)
        S, M, d = x.shape
        x = x.unsqueeze(1).expand(S, self.C, M, d).reshape(S * self.C, M, d)
        return self.critic.forward_params(self._frozen_critic, x, self.critic.dropout_generators).view(S, self.C, M)

    def q1_member(self, s: int) -> MLP:
        """Seed s's first critic as a standalone MLP (a copy)."""
        return self.critic.member(s * self.C)

    def policy_member(self, s: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Seed s's deterministic policy c + h ⊙ tanh(μ(s)), ``(N, d_s) -> (N, d_a)`` (live weights)."""
        sl = slice(s, s + 1)

        def act(obs: torch.Tensor) -> torch.Tensor:
            mean = self.actor(obs.unsqueeze(0), members=sl, detach=True)[0, :, : self.act_dim]
            return self.center + self.scale * torch.tanh(mean)

        return act

    # ----------------------------------------------------------------- the losses
    def td_target(self, rew: torch.Tensor, nobs: torch.Tensor, term: torch.Tensor,
                  next_stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``y: (S, B)`` with a' ~ π(·|s') drawn from ``next_stats`` (μ, log σ at s')."""
        with torch.no_grad():
            a2, logp2 = self.sample(next_stats)
            v = self.q(nobs, a2, target=True).min(dim=1).values
            if self.cfg.backup_entropy:
                v = v - self.alpha.unsqueeze(1) * logp2
            return rew + self.gammas * (1.0 - term) * v

    def critic_loss(self, batch: Batch, stats: tuple[torch.Tensor, torch.Tensor],
                    next_stats: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The critic-side loss to differentiate (L_Q summed over seeds), and per-seed ``(S,)``
        diagnostics: "critic_loss" (L_Q of the seed) and "q1_batch" (mean Q_1 on the minibatch).

        ``stats`` / ``next_stats``: the policy's (μ, log σ) at s and s', detached; subclasses
        (CQL) override this method.
        """
        obs, act, rew, nobs, term = batch
        y = self.td_target(rew, nobs, term, next_stats).unsqueeze(1)
        q = self.q(obs, act)
        per_seed = (q - y).pow(2).mean(2).sum(1)
        return per_seed.sum(), {"critic_loss": per_seed.detach(), "q1_batch": q[:, 0].detach().mean(1)}

    def actor_loss(self, obs: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """L_π + L_α summed over seeds (critics frozen), and the per-seed L_π ``(S,)``."""
        act, logp = self.sample(stats)
        q = self.q_frozen(obs, act).min(dim=1).values
        per_seed = (self.alpha.unsqueeze(1) * logp - q).mean(1)
        loss = per_seed.sum()
        if self.cfg.autotune_alpha:
            log_alpha = self.scalars["log_alpha"]
            weight = log_alpha.exp() if self.cfg.alpha_loss == "exp" else log_alpha
            loss = loss - (weight * (logp.detach().mean(1) + self.target_entropy)).sum()
        return loss, per_seed.detach()

    # ----------------------------------------------------------------- the update
    def update(self, batch: Batch, *, info: bool = False, policy_batch: Batch | None = None) -> dict[str, float]:
        """One iteration on per-seed minibatches (leading axis S); returns float metrics.

        All gradients are taken at the current parameters, then every optimiser steps, then the
        targets move (with ``critic_first``: :meth:`update_in_order`). ``info=True`` also stores
        per-seed tensors in ``self.info``. The actor (and α) learn on ``policy_batch`` when given
        (OPER-R).
        """
        if self.cfg.critic_first:
            return self.update_in_order(batch, info=info, policy_batch=policy_batch)
        self.step += 1
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        stats = self.policy_stats(batch.obs)
        with torch.no_grad():
            next_stats = self.policy_stats(batch.next_obs)
        policy_obs, policy_stats = (batch.obs, stats) if policy_batch is None else \
            (policy_batch.obs, self.policy_stats(policy_batch.obs))
        actor_loss, actor_per_seed = self.actor_loss(policy_obs, policy_stats)
        critic_loss, diag = self.critic_loss(batch, (stats[0].detach(), stats[1].detach()), next_stats)
        (actor_loss + critic_loss).backward()  # disjoint parameters: one backward pass for both
        if info:
            self.info = {**diag, "critic_grad_norm": grad_norm(self.critic)[:: self.C],
                         "actor_loss": actor_per_seed, "actor_grad_norm": grad_norm(self.actor), "alpha": self.alpha}
        for opt in self.optimizers.values():
            opt.step()
        if self.step % self.cfg.target_frequency == 0:
            lerp_targets([(self.critic, self.critic_target)], self.cfg.tau)
        return {"critic_loss": float(diag["critic_loss"].sum()) / self.S,
                "actor_loss": float(actor_per_seed.sum()) / self.S}

    def update_in_order(self, batch: Batch, *, info: bool = False, policy_batch: Batch | None = None) -> dict[str, float]:
        """CleanRL's order: a critic step; every k-th update (k = ``policy_frequency``) k actor
        (and α) steps on the updated critics, each on a fresh ã; every ``target_frequency``-th
        update the target EMA. Returns "critic_loss", "q1_batch" and, when the actor stepped,
        "actor_loss" (seed means, of the last actor step)."""
        self.step += 1
        cfg, critic_opt, actor_opt = self.cfg, self.optimizers["critic"], self.optimizers["actor"]
        with torch.no_grad():
            stats, next_stats = self.policy_stats(batch.obs), self.policy_stats(batch.next_obs)
        critic_opt.zero_grad(set_to_none=True)
        critic_loss, diag = self.critic_loss(batch, stats, next_stats)
        critic_loss.backward()
        self.info = {**diag, "critic_grad_norm": grad_norm(self.critic)[:: self.C]} if info else {}
        critic_opt.step()
        metrics = {"critic_loss": float(diag["critic_loss"].sum()) / self.S,
                   "q1_batch": float(diag["q1_batch"].sum()) / self.S}
        if self.step % cfg.policy_frequency == 0:
            for _ in range(cfg.policy_frequency):  # CleanRL: make up for the delay
                actor_opt.zero_grad(set_to_none=True)
                policy_obs = (policy_batch or batch).obs
                actor_loss, actor_per_seed = self.actor_loss(policy_obs, self.policy_stats(policy_obs))
                actor_loss.backward()
                if info:
                    self.info.update(actor_loss=actor_per_seed, actor_grad_norm=grad_norm(self.actor), alpha=self.alpha)
                actor_opt.step()
            metrics["actor_loss"] = float(actor_per_seed.sum()) / self.S
        if self.step % cfg.target_frequency == 0:
            lerp_targets([(self.critic, self.critic_target)], cfg.tau)
        return metrics

    # ----------------------------------------------------------------- resume
    def generators(self) -> list[torch.Generator]:
        """Every random stream of the trainer (subclasses add theirs)."""
        return self.noise_gens + self.critic.dropout_generators + self.critic_target.dropout_generators

    def state_dict(self) -> dict:
        """Networks, target, scalars (log α, …), optimisers, every generator and the step."""
        return {"critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
                "actor": self.actor.state_dict(), "scalars": {k: v.detach().clone() for k, v in self.scalars.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "generators": generator_states(self.generators()), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        for name in ("critic", "critic_target", "actor"):
            getattr(self, name).load_state_dict(state[name])
        with torch.no_grad():
            for k, v in state["scalars"].items():
                self.scalars[k].copy_(v)
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        set_generator_states(self.generators(), state["generators"])
        self.step = int(state["step"])


def make_trainer(cfg: SACOfflineConfig, data, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None) -> SAC:
    """A :class:`SAC` sized for ``data`` (a :class:`seemlab.data.TransitionDataset`)."""
    cfg.validate()
    check_data(data)
    return SAC(cfg, data.obs_dim, data.action_dim, data.action_low, data.action_high, seeds, device, gammas)
