"""IQL, Implicit Q-Learning (Kostrikov, Nair & Levine 2022), in one readable module.

Objective. Twin critics Q_1, Q_2 with EMA targets Q̄_c, a state-value net V and a Gaussian
actor π; per minibatch of B transitions (s, a, r, s', d), with expectile τ and temperature β:

    L2^τ(u) = |τ − 1(u < 0)| · u²                                    the expectile loss
    A(s, a) = min_c Q̄_c(s, a) − V(s)                                  the advantage
    L_V     = mean_B L2^τ(A(s, a))
    L_π     = −mean_B min(exp(β · A(s, a)), w_max) · log π(a | s)      advantage-weighted regression
    L_Q     = Σ_c mean_B (r + γ (1 − d) · V(s') − Q_c(s, a))²
    θ̄       ← τ_ema θ + (1 − τ_ema) θ̄                                 (τ_ema = ``tau``, 0.005)

No term ever queries Q at an action outside the dataset: V is an upper expectile of the target
critic over the dataset's actions, and the actor only re-weights the dataset's actions.

Order of one step, as the official code's ``_update_jit`` (learner.py): V (against Q̄), then the
actor (against Q̄ and the *updated* V), then Q (target from the updated V), then the EMA of Q̄.
The actor and V steps read the same Q̄(s, a), so it is computed once per step.

Policy (the official MuJoCo policy: ``NormalTanhPolicy(state_dependent_std=False,
tanh_squash_distribution=False, log_std_min=−5)``): π(a | s) = N(a; μ(s), diag σ²) with
μ(s) = tanh(f(s)), f an MLP, and σ = exp(clip(log σ, −5, 2)) a learnable vector per seed that does
not depend on s (zeros at the start). log π is the Gaussian density of the dataset's action itself
(no tanh correction), after mapping the action box to [−1, 1] (a constant Jacobian). The
deterministic policy is μ(s) mapped back to the action box.

Networks. Critic options (LayerNorm, BatchNorm, WeightNorm, dropout, activation: every field of
:class:`~seemlab.rl.base.AgentConfig`) apply to Q only, because the paper adds LayerNorm to "the
critic"; V keeps the critic's width, depth and activation but is plain unless ``value_norm``
gives it the critic's norm too (never its dropout).

Hyper-parameters (official code, configs/mujoco_config.py and antmaze_config.py): learning rates
3e-4, batch 256, γ 0.99, τ_ema 0.005, no dropout, 2 × 256 hidden units; MuJoCo expectile 0.7,
β 3.0 (the defaults here); AntMaze expectile 0.9, β 10.0 (``preset("iql", **ANTMAZE)``); the
exp weights clipped at 100; the actor's learning rate decays to 0 on a cosine over the run.
The official code also rescales rewards before training: MuJoCo r ← r · 1000 / (max − min
episode return), AntMaze r ← r − 1. Here they are the options ``reward_normalize`` and
``reward_shift``, OFF by default: the paper's divergence criterion and the run layer's logs are
stated in raw reward units, and seemlab's X% subsets break episodes apart, so seemlab trains every
algorithm on raw rewards.

Shapes: S seeds trained in lockstep, C = 2 critics per seed (members s·C .. s·C + 1 of one
:class:`~seemlab.nets.EnsembleMLP`), B batch, d_s / d_a state and action sizes. Every network is
an EnsembleMLP and the log σ is one ``(S, 1, d_a)`` parameter, so seed s gives the same numbers
alone or in an ensemble (to float rounding). Divergence is data: nothing here raises on NaN/inf.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seemlab.nets import MLP, EnsembleMLP
from seemlab.rl.base import (AgentConfig, Batch, check_data, ensemble_q, grad_norm, lerp_targets, make_optimizer,
                             member_gammas, member_seed)

ALGORITHMS = ("iql",)
CRITICS = 2
"""C: twin critics (the official ``DoubleCritic``)."""
ROLES = dict(critic=20, value=22, actor=23, target_dropout=24)
"""Roles of :func:`member_seed`: critic c of a seed uses ``critic + c``."""


# ============================================================================ config
@dataclass(frozen=True)
class IQLConfig(AgentConfig):
    """Every setting of an IQL run; defaults are the official MuJoCo ones. The shared fields
    (steps, batch size, γ, learning rates, critic options) are :class:`AgentConfig`'s."""

    algorithm: str = "iql"
    tau: float = 0.005
    """τ_ema: target-critic EMA rate in (0, 1]."""
    expectile: float = 0.7
    """τ: the expectile of V, in (0, 1) (MuJoCo 0.7, AntMaze 0.9)."""
    temperature: float = 3.0
    """β: inverse temperature of the advantage weights, >= 0 (MuJoCo 3, AntMaze 10; 0 = plain BC)."""
    adv_weight_max: float = 100.0
    """w_max: clip of the advantage weights exp(β A)."""
    value_lr: float = 3e-4
    """η_V: learning rate of V."""
    actor_lr_decay: bool = True
    """Cosine decay of the actor learning rate from actor_lr to 0 over ``steps`` (official); the
    schedule follows ``steps``, so a run stopped early by a callback still used the full one."""
    log_std_min: float = -5.0
    """Lower clip of the actor's log σ."""
    log_std_max: float = 2.0
    """Upper clip of the actor's log σ."""
    actor_dropout: float = 0.0
    """Dropout after each hidden layer of the actor (official: none on MuJoCo and AntMaze)."""
    value_norm: bool = False
    """Give V the critic's norm options too (default: the norm is on Q only, V is plain)."""
    reward_normalize: bool = False
    """Official MuJoCo scaling r ← r · 1000 / (max − min episode return of the data); off here."""
    reward_shift: float = 0.0
    """Added to every reward (official AntMaze: −1); 0 here."""

    ALGORITHMS = ALGORITHMS

    @classmethod
    def schema(cls) -> dict:
        from seemlab.params import boolean, number

        positive, unit = number(0, lo_open=True), number(0, 1, lo_open=True, hi_open=True)
        return dict(super().schema(), tau=number(0, 1, lo_open=True), expectile=unit,
                    temperature=number(0), adv_weight_max=positive, value_lr=positive, actor_lr_decay=boolean(),
                    log_std_min=number(), log_std_max=number(), actor_dropout=number(0, 1, hi_open=True),
                    value_norm=boolean(), reward_normalize=boolean(), reward_shift=number())

    def validate(self) -> None:
        from seemlab.profiles import ParameterError

        super().validate()
        if self.log_std_min >= self.log_std_max:
            raise ParameterError(f"IQLConfig.log_std_min = {self.log_std_min!r} is out of range; allowed values: "
                                 f"a number < log_std_max = {self.log_std_max!r}")


CONFIG = IQLConfig

ANTMAZE = dict(expectile=0.9, temperature=10.0)
"""The official AntMaze settings: ``preset("iql", **ANTMAZE)`` (add ``reward_shift=-1.0`` for
the official reward shift)."""


def preset(name: str, **overrides) -> IQLConfig:
    """IQL with the official MuJoCo defaults and ``overrides``."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; allowed values: {', '.join(ALGORITHMS)}")
    return IQLConfig(**overrides)


# ============================================================================ pieces
def expectile_loss(u: torch.Tensor, tau: float) -> torch.Tensor:
    """L2^τ(u) = |τ − 1(u < 0)| · u², element-wise (same shape as ``u``)."""
    return torch.where(u < 0, 1.0 - tau, tau) * u.square()


def cosine_lr(base: float, done: int, total: int) -> float:
    """η · (1 + cos(π · min(done, total) / total)) / 2, optax's ``cosine_decay_schedule`` after
    ``done`` updates (the first update uses η)."""
    return base * 0.5 * (1.0 + math.cos(math.pi * min(done, total) / total))


def episode_returns(data) -> torch.Tensor:
    """``(E,)`` the returns of the dataset's episodes (:func:`seemlab.data.dataset.episode_ids`:
    split where a transition is terminal, timed out, or its s' is not the next row's s, as the
    official ``split_into_trajectories``)."""
    from seemlab.data.dataset import episode_ids

    episode = episode_ids(data)
    return torch.zeros(int(episode[-1]) + 1, device=data.rewards.device).index_add_(0, episode, data.rewards)


def reward_scale(data) -> float:
    """1000 / (max − min episode return): the official MuJoCo reward normalisation."""
    returns = episode_returns(data)
    spread = float(returns.max() - returns.min())
    if not spread > 0:
        raise ValueError(f"reward_normalize needs episodes with different returns; dataset {data.name!r} has "
                         f"{len(returns)} episode(s) spanning {spread}")
    return 1000.0 / spread


def gaussian_log_prob(act: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log N(act; mean, diag exp(log_std)²): ``(S, B, d_a), (S, B, d_a), (S, 1, d_a) -> (S, B)``."""
    z = (act - mean) * torch.exp(-log_std)
    return -0.5 * z.square().sum(-1) - log_std.sum(-1) - 0.5 * act.shape[-1] * math.log(2 * math.pi)


def value_kwargs(cfg: IQLConfig, obs_dim: int) -> dict:
    """:class:`seemlab.nets.MLP` arguments of V ``(N, d_s) -> (N,)``: the critic's shape and
    activation, its norm only with ``value_norm``, never its dropout."""
    kwargs = dict(cfg.critic_kwargs(obs_dim), dropout=0.0)
    return kwargs if cfg.value_norm else dict(kwargs, norm="none", out_weight_norm=False)


def actor_kwargs(cfg: IQLConfig, obs_dim: int, act_dim: int) -> dict:
    """:class:`seemlab.nets.MLP` arguments of the mean μ ``(N, d_s) -> (N, d_a)`` in [−1, 1]."""
    return dict(in_dim=obs_dim, depth=cfg.actor_depth, width=cfg.actor_width, out_dim=act_dim,
                out_activation="tanh", dropout=cfg.actor_dropout)


# ============================================================================ agent
class IQL:
    """S seeds of IQL trained in lockstep.

    The constructor's arguments are those of :class:`seemlab.rl.td3.TD3` (built by ``make_trainer``),
    plus ``reward_scale``, which multiplies every reward before ``cfg.reward_shift`` is added.
    """

    def __init__(self, cfg: IQLConfig, obs_dim: int, act_dim: int, action_low: torch.Tensor,
                 action_high: torch.Tensor, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None, reward_scale: float = 1.0):
        self.cfg, self.seeds, self.device = cfg, [int(s) for s in seeds], torch.device(device)
        self.S, self.C = len(self.seeds), CRITICS
        self.gammas = member_gammas(cfg, gammas, self.S, self.device)  # (S, 1)
        self.reward_scale = float(reward_scale)
        low = torch.as_tensor(action_low, dtype=torch.float32, device=self.device)
        high = torch.as_tensor(action_high, dtype=torch.float32, device=self.device)
        self.scale, self.center = (high - low) / 2, (high + low) / 2
        self._build_networks(obs_dim, act_dim)
        self.critic_opt = make_optimizer(self.critic.parameters(), cfg.critic_lr)
        self.value_opt = make_optimizer(self.value.parameters(), cfg.value_lr)
        self.actor_opt = make_optimizer([*self.actor.parameters(), self.log_std], cfg.actor_lr)
        self.step = 0
        self.info: dict[str, torch.Tensor] = {}

    def _build_networks(self, obs_dim: int, act_dim: int) -> None:
        cfg, role = self.cfg, ROLES
        critic_seeds = [member_seed(s, role["critic"] + c) for s in self.seeds for c in range(self.C)]
        self.critic = EnsembleMLP.seeded(cfg.critic_kwargs(obs_dim + act_dim), critic_seeds).to(self.device)
        self.critic_target = copy.deepcopy(self.critic)
        if cfg.dropout > 0:  # the target must not replay the online critic's masks
            self.critic_target.reseed_dropout([member_seed(s, role["target_dropout"]) for s in critic_seeds])
        value_seeds = [member_seed(s, role["value"]) for s in self.seeds]
        self.value = EnsembleMLP.seeded(value_kwargs(cfg, obs_dim), value_seeds).to(self.device)
        actor_seeds = [member_seed(s, role["actor"]) for s in self.seeds]
        self.actor = EnsembleMLP.seeded(actor_kwargs(cfg, obs_dim, act_dim), actor_seeds).to(self.device)
        self.log_std = nn.Parameter(torch.zeros(self.S, 1, act_dim, device=self.device))

    # ----------------------------------------------------------------- evaluation helpers
    def q(self, obs: torch.Tensor, act: torch.Tensor, target: bool = False) -> torch.Tensor:
        """``(S, B, d_s), (S, B, d_a) -> (S, C, B)`` critic values."""
        return ensemble_q(self.critic_target if target else self.critic, self.C, obs, act)

    def q1_member(self, s: int) -> MLP:
        """Seed s's first critic as a standalone MLP (a copy)."""
        return self.critic.member(s * self.C)

    def policy_member(self, s: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Seed s's deterministic policy ``(N, d_s) -> (N, d_a)``, the mean μ in the action box
        (reads the live weights; actor dropout off)."""
        return lambda obs: self.act(obs.unsqueeze(0), slice(s, s + 1))[0]

    @torch.no_grad()
    def act(self, obs: torch.Tensor, members: slice | None = None) -> torch.Tensor:
        """``(S', B, d_s) -> (S', B, d_a)``: the mean action of the seeds ``members`` (default all)."""
        mode = self.actor.training
        self.actor.eval()  # no dropout masks drawn (and no generator advanced) by evaluation
        mean = self.mean(obs, members, detach=True)
        self.actor.train(mode)
        return self.center + self.scale * mean

    def mean(self, obs: torch.Tensor, members: slice | None = None, detach: bool = False) -> torch.Tensor:
        """μ: ``(S', B, d_s) -> (S', B, d_a)`` in [−1, 1] (an MLP with one output returns (S', B))."""
        mean = self.actor(obs, members=members, detach=detach)
        return mean.unsqueeze(-1) if mean.ndim == 2 else mean

    # ----------------------------------------------------------------- the update
    def value_step(self, obs: torch.Tensor, q_target: torch.Tensor) -> torch.Tensor:
        """One V update towards the τ-expectile of ``q_target: (S, B)``; returns L_V ``(S,)``."""
        loss = expectile_loss(q_target - self.value(obs), self.cfg.expectile).mean(1)
        self.value_opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.value_opt.step()
        return loss.detach()

    def actor_step(self, obs, act, advantage) -> tuple[torch.Tensor, torch.Tensor]:
        """One AWR update on the dataset actions ``act: (S, B, d_a)`` weighted by
        ``advantage: (S, B)``; returns L_π and the mean weight, both ``(S,)``."""
        cfg = self.cfg
        weight = torch.exp(cfg.temperature * advantage).clamp(max=cfg.adv_weight_max)
        log_std = self.log_std.clamp(cfg.log_std_min, cfg.log_std_max)
        log_prob = gaussian_log_prob((act - self.center) / self.scale, self.mean(obs), log_std)
        loss = -(weight * log_prob).mean(1)
        if cfg.actor_lr_decay:
            self.actor_opt.param_groups[0]["lr"] = cosine_lr(cfg.actor_lr, self.step - 1, cfg.steps)
        self.actor_opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.actor_opt.step()
        return loss.detach(), weight.mean(1)

    def critic_step(self, obs, act, rew, nobs, term) -> tuple[torch.Tensor, torch.Tensor]:
        """One Q update towards r + γ(1 − d) V(s'); returns the critic values ``(S, C, B)`` and
        targets ``(S, 1, B)`` it was taken on (detached)."""
        with torch.no_grad():
            y = (rew * self.reward_scale + self.cfg.reward_shift + self.gammas * (1.0 - term) * self.value(nobs))
        y = y.unsqueeze(1)
        q = self.q(obs, act)
        loss = F.mse_loss(q, y.expand_as(q), reduction="sum") / q.shape[2]
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return q.detach(), y

    def update(self, batch: Batch, *, info: bool = False, policy_batch: Batch | None = None) -> dict[str, float]:
        """One IQL iteration (V, actor, Q, EMA) on per-seed minibatches (leading axis S); returns
        float metrics. ``info=True`` also stores per-seed ``(S,)`` tensors in ``self.info``. The
        actor's advantage-weighted regression uses ``policy_batch`` when given (OPER-R)."""
        self.step += 1
        obs, act, rew, nobs, term = batch
        with torch.no_grad():
            q_target = self.q(obs, act, target=True).min(1).values  # min_c Q̄_c(s, a): (S, B)
        value_loss = self.value_step(obs, q_target)
        pb = policy_batch or batch
        with torch.no_grad():
            if policy_batch is not None:
                q_target = self.q(pb.obs, pb.act, target=True).min(1).values
            advantage = q_target - self.value(pb.obs)
        actor_loss, weight_mean = self.actor_step(pb.obs, pb.act, advantage)
        if info:
            self._actor_info(value_loss, actor_loss, weight_mean)
        q, y = self.critic_step(obs, act, rew, nobs, term)
        critic_loss = ((q - y) ** 2).mean(2).sum(1)  # L_Q per seed: (S,)
        if info:
            self.info.update(critic_loss=critic_loss, q1_batch=q[:, 0].mean(1),
                             critic_grad_norm=grad_norm(self.critic)[:: self.C])
        lerp_targets([(self.critic, self.critic_target)], self.cfg.tau)
        return {"critic_loss": float(critic_loss.mean()), "value_loss": float(value_loss.mean()),
                "actor_loss": float(actor_loss.mean())}

    def _actor_info(self, value_loss, actor_loss, weight_mean) -> None:
        """Per-seed V and actor statistics (the actor's gradients are still in place)."""
        log_std_sq = self.log_std.grad.pow(2).sum((1, 2))
        self.info.update(value_loss=value_loss, actor_loss=actor_loss, adv_weight_mean=weight_mean,
                         actor_grad_norm=(grad_norm(self.actor).pow(2) + log_std_sq).sqrt())

    # ----------------------------------------------------------------- resume
    NETWORKS = ("critic", "critic_target", "value", "actor", "critic_opt", "value_opt", "actor_opt")

    def state_dict(self) -> dict:
        """Networks, target, log σ, optimisers (the actor's learning rate follows ``step``),
        dropout generators and the step counter."""
        state = {name: getattr(self, name).state_dict() for name in self.NETWORKS}
        return dict(state, log_std=self.log_std.detach().clone(), step=self.step,
                    dropout_gens=[g.get_state() for g in self._dropout_generators()])

    def load_state_dict(self, state: dict) -> None:
        for name in self.NETWORKS:
            getattr(self, name).load_state_dict(state[name])
        with torch.no_grad():
            self.log_std.copy_(state["log_std"])
        for g, s in zip(self._dropout_generators(), state["dropout_gens"]):
            g.set_state(s)
        self.step = int(state["step"])

    def _dropout_generators(self) -> list[torch.Generator]:
        return self.critic.dropout_generators + self.critic_target.dropout_generators + self.actor.dropout_generators


def make_trainer(cfg: IQLConfig, data, seeds: Sequence[int], device: torch.device | str = "cpu",
                 gammas: Sequence[float] | None = None) -> IQL:
    """An :class:`IQL` sized for ``data`` (a :class:`seemlab.data.TransitionDataset`)."""
    cfg.validate()
    check_data(data)
    scale = reward_scale(data) if cfg.reward_normalize else 1.0
    return IQL(cfg, data.obs_dim, data.action_dim, data.action_low, data.action_high, seeds, device, gammas, scale)
