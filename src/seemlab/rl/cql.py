"""Conservative Q-Learning, CQL(H) (Kumar et al. 2020), on the offline SAC of
:mod:`seemlab.rl.soft_actor_critic`: only the critic loss changes.

Objective. Per seed and critic c, on a minibatch of B transitions (s, a, r, s', d), with N =
``n_actions`` samples per state of each proposal (U: uniform on the action box, density
1/Π_j(high_j − low_j) = 0.5^d_a on [−1, 1]^d_a):

    L_c = mean_B (Q_c(s, a) − y)²  +  α_cql · gap_c
    gap_c = mean_B [ T · logsumexp_{3N}( X_c / T ) − Q_c(s, a) ]                        (clipped if set)
    X_c   = [ Q_c(s, a_U) − log U(a_U),  Q_c(s, a'_π) − log π(a'_π|s'),  Q_c(s, a_π) − log π(a_π|s) ]
            a_U ~ U,  a'_π ~ π(·|s'),  a_π ~ π(·|s)      (N each; all detached from π)
    y     = r̃ + γ (1 − d) · (min_c Q̄_c(s', a') [− α_SAC log π(a'|s')]),  a' ~ π(·|s'),  r̃ = k·r + b

The importance-sampled logsumexp estimates log ∫ exp Q_c(s, ·); without ``importance_sample`` X_c
is the plain [Q_c(s, a_U), Q_c(s, a), Q_c(s, a'_π), Q_c(s, a_π)] (CQL(ρ)-style, rlkit's
min_q_version 2). The entropy term in y only with ``backup_entropy`` (off here: the official
MuJoCo runs use ``deterministic_backup=True``, CORL and offbench ``backup_entropy=False``). With
``max_target_backup`` the target takes, of N actions a' ~ π(·|s'), the one with the largest
min_c Q̄_c(s', a') (CORL, offbench). The Lagrange variant (``lagrange``) replaces α_cql by
α'·α_cql with α' = clip(exp(log α'), 0, 10⁶) and learns log α' per seed by gradient ascent on
α'·α_cql·(gap_c − τ_gap) averaged over c (the critics see α' as a constant, log α' sees the gap
as one), at the critic learning rate, as in the official code and CORL.

The actor and α are SAC's (L_π = mean_B(α log π(ã|s) − min_c Q_c(s, ã)), L_α with H̄ = −d_a);
every gradient is taken at the parameters before the update, as in offbench (JAX, all losses of
a step from one parameter set) and CORL.

Hyper-parameters (:func:`preset` = MuJoCo; :data:`ANTMAZE`), sources:

- α_cql = 5.0: offbench ``configs``/``algos/mf_algos/cql.py`` (``min_q_weight = 5.0``), the
  official README ("min_q_weight=5.0 or 10.0"); CORL's MuJoCo yaml files use 10.0.
- N = 10: official rlkit (``num_random=10``), CORL (``cql_n_actions: 10``); offbench uses 50
  (5× the critic cost), set ``n_actions=50`` to match it.
- η_π = 1e-4 (offbench ``policy_lr``, official README; CORL MuJoCo 3e-5), η_Q = 3e-4,
  τ = 0.005, B = 256, importance sampling on, T = 1, no entropy backup, no max-target backup,
  α_SAC autotuned from 1 with H̄ = −d_a: all three code bases.
- AntMaze (CORL ``configs/offline/cql/antmaze/*.yaml``): Lagrange with τ_gap = 0.8, α_cql = 5,
  max-target backup, gap clipped below at −200, r̃ = 10·r − 5, η_π = 1e-4 (CORL also uses 5
  hidden critic layers). The official rlkit AntMaze script uses τ_gap = 5 and r̃ = 4·(r − 0.5),
  which offbench also applies to AntMaze rewards.

Shapes as in :mod:`seemlab.rl.soft_actor_critic`: S seeds, C = 2 critics, B batch, N samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from seemlab.rl.base import Batch, check_data, make_optimizer, member_seed
from seemlab.rl.soft_actor_critic import SAC, SACOfflineConfig

ALGORITHMS = ("cql",)
ROLE_OOD = 36
"""member_seed role of each seed's generator for CQL's sampled actions (uniform, π(s), π(s'))."""
LOG_ALPHA_PRIME_INIT = 1.0
"""log α' at the start of the Lagrange variant (CORL's and offbench's ``Scalar(1.0)``)."""
ALPHA_PRIME_MAX = 1e6
"""α' is clipped to [0, 10⁶] (official rlkit, CORL, offbench)."""


# ============================================================================ config
@dataclass(frozen=True)
class CQLConfig(SACOfflineConfig):
    """CQL(H) on offline SAC; defaults are the MuJoCo settings (module docstring for sources)."""

    algorithm: str = "cql"
    """The algorithm's name."""
    actor_lr: float = 1e-4
    """η_π (and of log α_SAC)."""
    backup_entropy: bool = False
    """−α_SAC log π(a'|s') in the TD target (off in CQL's MuJoCo runs)."""
    # --- CQL(H)
    cql_alpha: float = 5.0
    """α_cql: weight of the conservative gap (min_q_weight)."""
    n_actions: int = 10
    """N: sampled actions per state for each of the three proposals."""
    importance_sample: bool = True
    """Subtract log-densities inside the logsumexp (CQL(H), min_q_version 3)."""
    cql_temp: float = 1.0
    """T: logsumexp temperature."""
    cql_clip_diff_min: float | None = None
    """Lower clip of the per-state gap; None = no clip."""
    cql_clip_diff_max: float | None = None
    """Upper clip of the per-state gap; None = no clip."""
    lagrange: bool = False
    """Learn α' so that the gap meets target_action_gap (CQL-Lagrange)."""
    target_action_gap: float = 1.0
    """τ_gap: the Lagrange threshold (offbench's default; AntMaze 0.8)."""
    max_target_backup: bool = False
    """Back up the best of N actions a' ~ π(·|s') (AntMaze)."""
    reward_scale: float = 1.0
    """k in r̃ = k·r + b (AntMaze reward shift)."""
    reward_bias: float = 0.0
    """b in r̃ = k·r + b."""

    ALGORITHMS = ALGORITHMS

    @classmethod
    def schema(cls) -> dict:
        from seemlab.params import boolean, integer, number

        clip = number(optional="no clip")
        return dict(super().schema(), cql_alpha=number(0), n_actions=integer(min=1), importance_sample=boolean(),
                    cql_temp=number(0, lo_open=True), cql_clip_diff_min=clip, cql_clip_diff_max=clip,
                    lagrange=boolean(), target_action_gap=number(), max_target_backup=boolean(),
                    reward_scale=number(), reward_bias=number())


CONFIG = CQLConfig
PRESETS: dict[str, dict] = {"cql": {}}

ANTMAZE = dict(lagrange=True, target_action_gap=0.8, cql_alpha=5.0, max_target_backup=True, cql_clip_diff_min=-200.0,
               reward_scale=10.0, reward_bias=-5.0, actor_lr=1e-4)
"""AntMaze overrides of :func:`preset` (CORL's antmaze yaml files; see the module docstring)."""


def preset(name: str, **overrides) -> CQLConfig:
    """A named configuration (one of :data:`PRESETS`: "cql", the MuJoCo defaults) with ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown algorithm {name!r}; allowed values: {', '.join(PRESETS)}")
    return CQLConfig(**{**PRESETS[name], **overrides})


# ============================================================================ the conservative gap
def cql_gap(q_data: torch.Tensor, q_sampled: torch.Tensor, temp: float = 1.0, clip_min: float | None = None,
            clip_max: float | None = None) -> torch.Tensor:
    """``q_data: (..., B)``, ``q_sampled: (..., B, M)`` (values minus log-densities when importance
    sampled) -> ``(...)``: mean_B clip(T · logsumexp_M(q_sampled / T) − q_data)."""
    diff = temp * torch.logsumexp(q_sampled / temp, dim=-1) - q_data
    if clip_min is not None or clip_max is not None:
        diff = diff.clamp(clip_min, clip_max)
    return diff.mean(-1)


# ============================================================================ agent
class CQL(SAC):
    """S seeds of CQL(H) in lockstep: :class:`SAC` with :meth:`critic_loss` replaced."""

    def __init__(self, cfg: CQLConfig, obs_dim: int, act_dim: int, action_low: torch.Tensor,
                 action_high: torch.Tensor, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None):
        super().__init__(cfg, obs_dim, act_dim, action_low, action_high, seeds, device, gammas)
        self.ood_gens = [torch.Generator().manual_seed(member_seed(s, ROLE_OOD)) for s in self.seeds]
        self.log_uniform_density = -float((self.high - self.low).log().sum())  # log(0.5^d_a) on [−1, 1]
        if cfg.lagrange:
            log_alpha_prime = torch.full((self.S,), LOG_ALPHA_PRIME_INIT, device=self.device, requires_grad=True)
            self.scalars["log_alpha_prime"] = log_alpha_prime
            # α' learns at the critics' rate (official, CORL, offbench): it joins their Adam.
            self.optimizers["critic"] = make_optimizer([*self.critic.parameters(), log_alpha_prime], cfg.critic_lr)

    def generators(self) -> list[torch.Generator]:
        return super().generators() + self.ood_gens

    # ----------------------------------------------------------------- sampled actions
    def uniform(self, shape: Sequence[int]) -> torch.Tensor:
        """Uniform actions on the box ``(S, *shape, d_a)``, seed s's from its own generator."""
        u = torch.stack([torch.rand((*shape, self.act_dim), generator=g) for g in self.ood_gens]).to(self.device)
        return self.low + (self.high - self.low) * u

    def sampled_q(self, obs: torch.Tensor, q_data: torch.Tensor, stats, next_stats) -> torch.Tensor:
        """X: ``(S, C, B, 3N)`` (``3N + 1`` with the data Q when not importance sampled)."""
        cfg, (S, B, d_s), n = self.cfg, obs.shape, self.cfg.n_actions
        with torch.no_grad():
            a_u = self.uniform((B, n))
            a_next, logp_next = self.sample(next_stats, n, self.ood_gens)
            a_cur, logp_cur = self.sample(stats, n, self.ood_gens)
        acts = torch.cat([a_u, a_next, a_cur], 2).reshape(S, B * 3 * n, self.act_dim)
        obs_rep = obs.unsqueeze(2).expand(S, B, 3 * n, d_s).reshape(S, B * 3 * n, d_s)
        q = self.q(obs_rep, acts).view(S, self.C, B, 3 * n)
        if not cfg.importance_sample:
            return torch.cat([q, q_data.unsqueeze(-1)], -1)
        log_density = torch.cat([torch.full_like(logp_cur, self.log_uniform_density), logp_next, logp_cur], 2)
        return q - log_density.unsqueeze(1)

    def max_backup_target(self, rew: torch.Tensor, nobs: torch.Tensor, term: torch.Tensor, next_stats
                          ) -> torch.Tensor:
        """``y: (S, B)`` from the best of N actions a' ~ π(·|s') under min_c Q̄_c(s', a')."""
        (S, B, d_s), n = nobs.shape, self.cfg.n_actions
        with torch.no_grad():
            a2, logp2 = self.sample(next_stats, n, self.ood_gens)
            nobs_rep = nobs.unsqueeze(2).expand(S, B, n, d_s).reshape(S, B * n, d_s)
            v = self.q(nobs_rep, a2.reshape(S, B * n, self.act_dim), target=True).min(dim=1).values.view(S, B, n)
            v, best = v.max(dim=-1)
            if self.cfg.backup_entropy:
                v = v - self.alpha.unsqueeze(1) * logp2.gather(-1, best.unsqueeze(-1)).squeeze(-1)
            return rew + self.gammas * (1.0 - term) * v

    # ----------------------------------------------------------------- the critic loss
    def critic_loss(self, batch: Batch, stats, next_stats) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Σ_seeds Σ_c L_c (+ the α' loss in the Lagrange variant), and per-seed diagnostics
        "critic_loss", "q1_batch", "cql_gap" (gap of Q_1) and, with Lagrange, "cql_alpha" (α'·α_cql)."""
        cfg = self.cfg
        obs, act, rew, nobs, term = batch
        rew = cfg.reward_scale * rew + cfg.reward_bias
        target = self.max_backup_target if cfg.max_target_backup else self.td_target
        y = target(rew, nobs, term, next_stats).unsqueeze(1)
        q = self.q(obs, act)  # (S, C, B)
        gap = cql_gap(q, self.sampled_q(obs, q, stats, next_stats), cfg.cql_temp, cfg.cql_clip_diff_min,
                      cfg.cql_clip_diff_max)  # (S, C)
        conservative, weight, extra = self.conservative_term(gap)
        per_seed = (q - y).pow(2).mean(2).sum(1) + conservative
        diag = {"critic_loss": per_seed.detach(), "q1_batch": q[:, 0].detach().mean(1), "cql_gap": gap[:, 0].detach()}
        if cfg.lagrange:
            diag["cql_alpha"] = weight
        return per_seed.sum() + extra, diag

    def conservative_term(self, gap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """From the gaps ``(S, C)``: the critics' conservative loss per seed ``(S,)``, the weight on
        the gap ``(S,)`` and the α' loss (a scalar; 0 without Lagrange)."""
        cfg = self.cfg
        if not cfg.lagrange:
            weight = torch.full_like(gap[:, 0], cfg.cql_alpha).detach()
            return cfg.cql_alpha * gap.sum(1), weight, gap.new_zeros(())
        alpha_prime = self.scalars["log_alpha_prime"].exp().clamp(0.0, ALPHA_PRIME_MAX)  # (S,)
        weight = (alpha_prime * cfg.cql_alpha).detach()
        conservative = (weight.unsqueeze(1) * (gap - cfg.target_action_gap)).sum(1)
        slack = (gap.detach() - cfg.target_action_gap).sum(1)
        alpha_prime_loss = -0.5 * (alpha_prime * cfg.cql_alpha * slack).sum()
        return conservative, weight, alpha_prime_loss


def make_trainer(cfg: CQLConfig, data, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None) -> CQL:
    """A :class:`CQL` sized for ``data`` (a :class:`seemlab.data.TransitionDataset`)."""
    cfg.validate()
    check_data(data)
    return CQL(cfg, data.obs_dim, data.action_dim, data.action_low, data.action_high, seeds, device, gammas)
