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

The training loop (:func:`train`) calls an optional callback after every update; the
diagnostics of :mod:`seemlab.diagnostics` are one such callback.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from seemlab.nets import MLP, NORMS, POSITIONS, EnsembleMLP

ALGORITHMS = ("td3", "td3_bc", "ddpg")
OPTIMIZERS = ("adam", "sgd")


# ============================================================================ config
@dataclass(frozen=True)
class TD3Config:
    """Every setting of a TD3-family run; defaults are TD3+BC (Fujimoto & Gu 2021)."""

    # --- algorithm
    algorithm: str = "td3_bc"
    """Label of the family: "td3", "td3_bc" or "ddpg" (see :func:`preset`); checked, not used."""
    steps: int = 1_000_000
    """T: gradient steps."""
    batch_size: int = 256
    """B: transitions per minibatch."""
    gamma: float = 0.99
    """γ: discount."""
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
    actor_lr: float = 3e-4
    """η_π."""
    critic_lr: float = 3e-4
    """η: the critic learning rate (Theorem 4's η)."""
    adam_betas: tuple[float, float] = (0.9, 0.999)
    """(β₁, β₂) of Adam."""
    weight_decay: float = 0.0
    """Decoupled (AdamW) weight decay of the critic."""
    # --- critic (seemlab.nets.MLP options)
    critic_width: int = 256
    critic_depth: int = 2
    """Hidden layers of the critic (L = depth + 1 weight layers)."""
    critic_norm: str = "none"
    """One of seemlab.nets.NORMS: none, layer, psi, batch, weight."""
    norm_position: str = "before"
    """LayerNorm/BatchNorm before or after the activation."""
    norm_layers: tuple[int, ...] | None = None
    """Hidden layers (0-based) that get the norm; None = all."""
    norm_affine: bool = True
    """Learnable affine parameters of LayerNorm/BatchNorm."""
    out_weight_norm: bool = False
    """WeightNorm on the critic's output layer (the paper's WN arm)."""
    dropout: float = 0.0
    """Dropout after each hidden layer of the critic, active in the target pass too."""
    # --- actor
    actor_width: int = 256
    actor_depth: int = 2

    def __post_init__(self):
        validate(self)

    def replace(self, **changes) -> TD3Config:
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)


def _schema() -> dict:
    """Allowed values of every TD3Config field (seemlab.params)."""
    from seemlab.params import boolean, choice, integer, number, sequence_of

    count, rate, weight = integer(min=1), number(0, lo_open=True), number(0)
    return dict(algorithm=choice(*ALGORITHMS), steps=count, batch_size=count, gamma=number(0, 1),
                tau=number(0, 1, lo_open=True), policy_freq=count, double_q=boolean(), target_smoothing=boolean(),
                policy_noise=weight, noise_clip=weight, alpha=weight, bc_weight=weight, q_normalize=boolean(),
                optimizer=choice(*OPTIMIZERS), actor_lr=rate, critic_lr=rate,
                adam_betas=sequence_of(number(0, 1, hi_open=True), length=2), weight_decay=weight, critic_width=count,
                critic_depth=count, critic_norm=choice(*NORMS), norm_position=choice(*POSITIONS),
                norm_layers=sequence_of(integer(min=0), optional="all layers"), norm_affine=boolean(),
                out_weight_norm=boolean(), dropout=number(0, 1, hi_open=True), actor_width=count, actor_depth=count)


def validate(cfg: TD3Config) -> None:
    """Raise a one-line ``ValueError`` naming the first bad field, its value and the allowed
    values (before any training)."""
    from seemlab.params import check_fields, integer

    check_fields(cfg, **_schema())
    for i, layer in enumerate(cfg.norm_layers or ()):
        integer(0, cfg.critic_depth - 1).check(f"TD3Config.norm_layers[{i}]", layer)


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
def critic_kwargs(cfg: TD3Config, in_dim: int) -> dict:
    """:class:`seemlab.nets.MLP` arguments of one critic (Q: (N, d_s + d_a) -> (N,))."""
    return dict(in_dim=in_dim, depth=cfg.critic_depth, width=cfg.critic_width, norm=cfg.critic_norm,
                norm_position=cfg.norm_position, norm_layers=cfg.norm_layers, affine=cfg.norm_affine,
                out_weight_norm=cfg.out_weight_norm, dropout=cfg.dropout)


def actor_kwargs(cfg: TD3Config, obs_dim: int, act_dim: int) -> dict:
    """:class:`seemlab.nets.MLP` arguments of the actor (π: (N, d_s) -> (N, d_a) in [−1, 1])."""
    return dict(in_dim=obs_dim, depth=cfg.actor_depth, width=cfg.actor_width, out_dim=act_dim,
                out_activation="tanh")


class FusedAdam(torch.optim.Adam):
    """``torch.optim.Adam(fused=True)`` (AdamW when ``decoupled``) with the kernel called directly.

    Same state, state_dict and arithmetic as torch's fused Adam (a test checks bit equality); the
    per-step Python bookkeeping of the generic optimizer (hooks, state lookups, list building),
    which dominates at small widths, is done once and cached. Every parameter must receive a
    gradient at every step. No amsgrad, no maximize, no grad scaling.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float], weight_decay: float = 0.0,
                 decoupled: bool = False):
        super().__init__(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True,
                         decoupled_weight_decay=decoupled)
        self._buffers: list[tuple] | None = None

    def _state_lists(self) -> list[tuple]:
        """Per group: (params, exp_avg, exp_avg_sq, step) lists, creating the state on first use."""
        if self._buffers is None:
            self._buffers = []
            for group in self.param_groups:
                for p in group["params"]:
                    if not self.state[p]:
                        self.state[p].update(step=torch.zeros((), dtype=torch.float32, device=p.device),
                                             exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                st = [self.state[p] for p in group["params"]]
                self._buffers.append((group, list(group["params"]), *([s[k] for s in st]
                                                                      for k in ("exp_avg", "exp_avg_sq", "step"))))
        return self._buffers

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._buffers = None  # the state tensors were replaced

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self, closure=None):
        for group, params, exp_avg, exp_avg_sq, steps in self._state_lists():
            grads = [p.grad for p in params]
            if any(g is None for g in grads):
                raise RuntimeError("FusedAdam needs a gradient for every parameter at every step")
            torch._foreach_add_(steps, 1.0)
            kernel = torch._fused_adamw_ if group["decoupled_weight_decay"] else torch._fused_adam_
            kernel(params, grads, exp_avg, exp_avg_sq, [], steps, amsgrad=False,
                   lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1],
                   weight_decay=group["weight_decay"], eps=group["eps"], maximize=False, grad_scale=None,
                   found_inf=None)


def make_optimizer(params, cfg: TD3Config, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (AdamW if ``weight_decay``) or SGD; element-wise, so ensemble members never mix."""
    params = list(params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    return FusedAdam(params, lr=lr, betas=cfg.adam_betas, weight_decay=weight_decay, decoupled=weight_decay > 0)


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
        gammas = [cfg.gamma] * self.S if gammas is None else [float(g) for g in gammas]
        if len(gammas) != self.S or not all(0.0 <= g <= 1.0 for g in gammas):
            raise ValueError(f"gammas must be {self.S} values in [0, 1], got {gammas}")
        self.gammas = torch.tensor(gammas, dtype=torch.float32, device=self.device).unsqueeze(1)  # (S, 1)
        self.low = torch.as_tensor(action_low, dtype=torch.float32, device=self.device)
        self.high = torch.as_tensor(action_high, dtype=torch.float32, device=self.device)
        self.scale, self.center = (self.high - self.low) / 2, (self.high + self.low) / 2
        self.unit_box = bool((self.low == -1).all() and (self.high == 1).all())
        critic_seeds = [_member_seed(s, 1 + c) for s in self.seeds for c in range(self.C)]
        self.critic = EnsembleMLP.seeded(critic_kwargs(cfg, obs_dim + act_dim), critic_seeds).to(self.device)
        self.actor = EnsembleMLP.seeded(actor_kwargs(cfg, obs_dim, act_dim), [_member_seed(s, 0) for s in self.seeds])
        self.actor.to(self.device)
        self.alias_targets = cfg.tau == 1.0 and cfg.policy_freq == 1
        self.critic_target = self.critic if self.alias_targets else copy.deepcopy(self.critic)
        if not self.alias_targets and cfg.dropout > 0:
            self.critic_target.reseed_dropout([_member_seed(s, 8) for s in critic_seeds])
        self.actor_target = self.actor if self.alias_targets else copy.deepcopy(self.actor)
        self.critic_opt = make_optimizer(self.critic.parameters(), cfg, cfg.critic_lr, cfg.weight_decay)
        self.actor_opt = make_optimizer(self.actor.parameters(), cfg, cfg.actor_lr)
        # Q1 of every seed, detached views of the live weights (the optimiser updates in place):
        # the actor step reads them without slicing and detaching six tensors per call.
        self._q1_params = self.critic.params(slice(0, None, self.C), detach=True)
        self.noise_gens = [torch.Generator().manual_seed(_member_seed(s, 7)) for s in self.seeds]
        self.step = 0
        self.info: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------- evaluation helpers
    def act(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """``obs: (S, B, d_s) -> (S, B, d_a)`` actions in the box."""
        net = self.actor_target if target else self.actor
        return net(obs) if self.unit_box else self.center + self.scale * net(obs)

    def q(self, obs: torch.Tensor, act: torch.Tensor, target: bool = False) -> torch.Tensor:
        """``(S, B, d_s), (S, B, d_a) -> (S, C, B)`` critic values."""
        x = torch.cat([obs, act], -1)
        S, B, d = x.shape
        x = x.unsqueeze(1).expand(S, self.C, B, d).reshape(S * self.C, B, d)
        net = self.critic_target if target else self.critic
        return net(x).view(S, self.C, B)

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
        with torch.no_grad():
            for net, tgt in ((self.critic, self.critic_target), (self.actor, self.actor_target)):
                torch._foreach_lerp_(list(tgt.parameters()), list(net.parameters()), self.cfg.tau)

    def update(self, obs, act, rew, nobs, term, *, info: bool = False) -> dict[str, float]:
        """One TD3 iteration on per-seed minibatches (leading axis S); returns float metrics.

        ``info=True`` also stores per-seed tensors (losses, batch Q1, gradient norms) in
        ``self.info`` for the diagnostics.
        """
        self.step += 1
        critic_loss, q, y = self.critic_step(obs, act, rew, nobs, term)
        if info:
            self.info["critic_grad_norm"] = _grad_norm(self.critic)[:: self.C]
            self.info["critic_loss"] = ((q - y) ** 2).mean(2).sum(1)
            self.info["q1_batch"] = q[:, 0].mean(1)
        out = {"critic_loss": float(critic_loss) / self.S}
        if self.step % self.cfg.policy_freq == 0:
            actor_loss = self.actor_step(obs, act)
            self.update_targets()
            if info:
                self.info["actor_grad_norm"] = _grad_norm(self.actor)
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


def _member_seed(seed: int, role: int) -> int:
    """A distinct, grouping-independent seed for (run seed, role)."""
    return (int(seed) * 1_000_003 + 7919 * role) % (2**63 - 1)


def _grad_norm(net: EnsembleMLP) -> torch.Tensor:
    """Per-member gradient 2-norm ``(K,)`` over all of a member's parameters."""
    sq = [p.grad.reshape(p.shape[0], -1).pow(2).sum(1) for p in net.stacked if p.grad is not None]
    return torch.stack(sq).sum(0).sqrt() if sq else torch.zeros(net.K)


# ============================================================================ the loop
class Sampler:
    """Per-seed uniform minibatches (with replacement) of a dataset, indices on CPU generators.

    ``generators[s]`` draws exactly what ``TransitionDataset.sample(B, generators[s])`` would.
    """

    def __init__(self, data, seeds: Sequence[int]):
        self.n, self.device = len(data), data.device
        self.generators = [torch.Generator().manual_seed(_member_seed(s, 3)) for s in seeds]
        # One table, one gather per step: [s | a | r | s' | d] (N, 2 d_s + d_a + 2).
        self.table = torch.cat([data.observations, data.actions, data.rewards[:, None], data.next_observations,
                                data.terminals[:, None]], 1)
        d_s, d_a = data.obs_dim, data.action_dim
        self.cuts = [d_s, d_a, 1, d_s, 1]

    def __call__(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """``(obs, act, rew, next_obs, term)`` with leading axis S: (S, B, d) or (S, B)."""
        idx = torch.stack([torch.randint(self.n, (batch_size,), generator=g) for g in self.generators])
        rows = self.table.index_select(0, idx.to(self.device).view(-1))  # faster than table[idx] on CPU
        obs, act, rew, nobs, term = rows.view(*idx.shape, -1).split(self.cuts, dim=2)
        return obs, act, rew.squeeze(2), nobs, term.squeeze(2)

    def state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def set_state(self, states: list[torch.Tensor]) -> None:
        for g, s in zip(self.generators, states):
            g.set_state(s)


StepCallback = Callable[[int, TD3, dict], bool]
"""``callback(step, agent, metrics) -> stop``, called once before training (step 0, empty
metrics) and after every update (step = updates done)."""


def check_data(data) -> None:
    """Raise ``ValueError`` unless ``data`` has finite action bounds and 1-D rewards/terminals."""
    low, high = getattr(data, "action_low", None), getattr(data, "action_high", None)
    if low is None or high is None:
        raise ValueError(f"dataset {getattr(data, 'name', '?')!r} has no action bounds (action_low/high)")
    if not (torch.isfinite(torch.as_tensor(low)).all() and torch.isfinite(torch.as_tensor(high)).all()):
        raise ValueError(f"dataset {getattr(data, 'name', '?')!r} has non-finite action bounds")
    if data.rewards.ndim != 1 or data.terminals.ndim != 1:
        raise ValueError("rewards and terminals must have shape (N,)")


def make_agent(cfg: TD3Config, data, seeds: Sequence[int], device: torch.device | str = "cpu",
               gammas: Sequence[float] | None = None) -> TD3:
    """A :class:`TD3` sized for ``data`` (a :class:`seemlab.data.TransitionDataset`)."""
    validate(cfg)
    check_data(data)
    return TD3(cfg, data.obs_dim, data.action_dim, data.action_low, data.action_high, seeds, device, gammas)


def train(cfg: TD3Config, data, seeds: Sequence[int] = (0,), *, device: torch.device | str = "cpu",
          callback: StepCallback | None = None, agent: TD3 | None = None,
          sampler: Sampler | None = None, progress=None, gammas: Sequence[float] | None = None) -> TD3:
    """Train S seeds together for ``cfg.steps`` updates (or until ``callback`` returns True).

    ``agent``/``sampler`` resume a run; ``progress`` is an optional object with ``update(n)``;
    ``gammas`` gives each member its own γ (default ``cfg.gamma``).
    ``callback(step, agent, metrics)`` decides whether ``agent.update`` fills ``agent.info``
    through its optional attribute ``wants_info(step) -> bool``.
    """
    data = data.to(device)
    agent = agent or make_agent(cfg, data, seeds, device, gammas)
    sampler = sampler or Sampler(data, agent.seeds)
    wants = getattr(callback, "wants_info", None)
    if callback is not None and agent.step == 0 and callback(0, agent, {}):
        return agent
    for step in range(agent.step + 1, cfg.steps + 1):
        metrics = agent.update(*sampler(cfg.batch_size), info=bool(wants and wants(step)))
        if progress is not None:
            progress.update(1)
        if callback is not None and callback(step, agent, metrics):
            break
    return agent
