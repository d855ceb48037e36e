"""The trainer interface every algorithm implements, and the pieces the algorithms share.

A trainer holds S seeds of one algorithm, trained in lockstep (batched ensembles where the
algorithm batches seeds). It is built by its module's ``make_trainer(cfg, data, seeds, device,
gammas)`` and provides (see :class:`Trainer`):

- ``update(batch, info=False, policy_batch=None) -> dict[str, float]``: one iteration on a
  :class:`Batch`; policy improvement (the actor's loss) uses ``policy_batch`` when one is given
  (OPER-R, :mod:`seemlab.rl.oper`), else ``batch``; with ``info`` it also leaves per-seed tensors
  ``(S,)`` in ``trainer.info`` (losses, gradient norms, the minibatch's mean Q1) for the diagnostics;
- ``q1_member(s)``: seed s's first critic as a standalone scalar ``nn.Module`` (a copy);
- ``policy_member(s)``: seed s's deterministic policy ``(N, d_s) -> (N, d_a)`` in the action box;
- ``state_dict()`` / ``load_state_dict()``: everything a resume needs (networks, optimisers,
  random generators, ``step``).

The run layer (:mod:`seemlab.runs`), the diagnostics and the benchmarks know only this interface
and :func:`train`, the one training loop; a new algorithm is a module in :mod:`seemlab.rl` with a
config (a subclass of :class:`AgentConfig`), ``preset`` and ``make_trainer``, listed in
:data:`seemlab.rl.MODULES`.

Shared here so that no algorithm copies another: :class:`Batch` and :class:`Sampler` (per-seed
minibatches), :class:`AgentConfig` (steps, batch size, γ, learning rates and every critic option
of :class:`seemlab.nets.MLP`), :func:`member_seed`, :func:`member_gammas`, :func:`make_optimizer`
(:class:`FusedAdam`), :func:`grad_norm`, :func:`lerp_targets` and :func:`ensemble_q`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol, Sequence

import torch
from torch import nn

from seemlab.nets import ACTIVATIONS, NORMS, POSITIONS, EnsembleMLP

OPTIMIZERS = ("adam", "sgd")


# ============================================================================ data
class Batch(NamedTuple):
    """Per-seed minibatches, leading axis S: ``obs, next_obs: (S, B, d_s)``, ``act: (S, B, d_a)``,
    ``rew, term: (S, B)``."""

    obs: torch.Tensor
    act: torch.Tensor
    rew: torch.Tensor
    next_obs: torch.Tensor
    term: torch.Tensor


def member_seed(seed: int, role: int) -> int:
    """A distinct seed for (run seed, role) that does not depend on the seed's ensemble mates."""
    return (int(seed) * 1_000_003 + 7919 * role) % (2**63 - 1)


class Sampler:
    """Per-seed uniform minibatches (with replacement) of a dataset, indices on CPU generators.

    ``generators[s]`` draws exactly what ``TransitionDataset.sample(B, generators[s])`` would.
    """

    def __init__(self, data, seeds: Sequence[int]):
        self.n, self.device = len(data), data.device
        self.generators = [torch.Generator().manual_seed(member_seed(s, 3)) for s in seeds]
        # One table, one gather per step: [s | a | r | s' | d] (N, 2 d_s + d_a + 2).
        self.table = torch.cat([data.observations, data.actions, data.rewards[:, None], data.next_observations,
                                data.terminals[:, None]], 1)
        d_s, d_a = data.obs_dim, data.action_dim
        self.cuts = [d_s, d_a, 1, d_s, 1]

    def __call__(self, batch_size: int) -> Batch:
        return self.rows(torch.stack([torch.randint(self.n, (batch_size,), generator=g) for g in self.generators]))

    def policy_batch(self, batch_size: int) -> Batch | None:
        """The policy-improvement minibatch: None, i.e. the same batch as policy evaluation
        (:class:`seemlab.rl.oper.OperSampler` draws a prioritized one)."""
        return None

    def rows(self, idx: torch.Tensor) -> Batch:
        """The transitions at indices ``idx (S, B)`` as a :class:`Batch`."""
        rows = self.table.index_select(0, idx.to(self.device).view(-1))  # faster than table[idx] on CPU
        obs, act, rew, nobs, term = rows.view(*idx.shape, -1).split(self.cuts, dim=2)
        return Batch(obs, act, rew.squeeze(2), nobs, term.squeeze(2))

    def state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def set_state(self, states: list[torch.Tensor]) -> None:
        for g, s in zip(self.generators, states):
            g.set_state(s)


def check_data(data) -> None:
    """Raise ``ValueError`` unless ``data`` has finite action bounds and 1-D rewards/terminals."""
    low, high = getattr(data, "action_low", None), getattr(data, "action_high", None)
    if low is None or high is None:
        raise ValueError(f"dataset {getattr(data, 'name', '?')!r} has no action bounds (action_low/high)")
    if not (torch.isfinite(torch.as_tensor(low)).all() and torch.isfinite(torch.as_tensor(high)).all()):
        raise ValueError(f"dataset {getattr(data, 'name', '?')!r} has non-finite action bounds")
    if data.rewards.ndim != 1 or data.terminals.ndim != 1:
        raise ValueError("rewards and terminals must have shape (N,)")


# ============================================================================ configs
@dataclass(frozen=True)
class AgentConfig:
    """What every algorithm's config has: the schedule, γ, learning rates, the actor's size and
    every critic option of :class:`seemlab.nets.MLP` (all algorithms take all of them)."""

    algorithm: str = ""
    """The algorithm (see :data:`seemlab.rl.MODULES`)."""
    steps: int = 1_000_000
    """T: gradient steps."""
    batch_size: int = 256
    """B: transitions per minibatch."""
    gamma: float = 0.99
    """γ: discount."""
    actor_lr: float = 3e-4
    """η_π."""
    critic_lr: float = 3e-4
    """η: the critic learning rate (Theorem 4's η)."""
    # --- critic (seemlab.nets.MLP options)
    critic_width: int = 256
    critic_depth: int = 2
    """Hidden layers of the critic (L = depth + 1 weight layers)."""
    critic_activation: str = "relu"
    """One of seemlab.nets.ACTIVATIONS (Diffusion-QL's critic uses mish)."""
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

    ALGORITHMS = ()
    """The values ``algorithm`` may take for this config class."""

    def __post_init__(self):
        self.validate()

    def replace(self, **changes):
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def schema(cls) -> dict:
        """Allowed values of every field (seemlab.params); subclasses add theirs."""
        from seemlab.params import boolean, choice, integer, number, sequence_of

        count, rate = integer(min=1), number(0, lo_open=True)
        return dict(algorithm=choice(*cls.ALGORITHMS), steps=count, batch_size=count, gamma=number(0, 1),
                    actor_lr=rate, critic_lr=rate, critic_width=count, critic_depth=count,
                    critic_activation=choice(*ACTIVATIONS), critic_norm=choice(*NORMS),
                    norm_position=choice(*POSITIONS), norm_layers=sequence_of(integer(min=0), optional="all layers"),
                    norm_affine=boolean(), out_weight_norm=boolean(), dropout=number(0, 1, hi_open=True),
                    actor_width=count, actor_depth=count)

    def validate(self) -> None:
        """Raise a one-line ``ValueError`` naming the first bad field, its value and the allowed
        values (before any training)."""
        from seemlab.params import check_fields, integer

        check_fields(self, **self.schema())
        for i, layer in enumerate(self.norm_layers or ()):
            integer(0, self.critic_depth - 1).check(f"{type(self).__name__}.norm_layers[{i}]", layer)

    def critic_kwargs(self, in_dim: int) -> dict:
        """:class:`seemlab.nets.MLP` arguments of one critic (Q: (N, d_s + d_a) -> (N,))."""
        return dict(in_dim=in_dim, depth=self.critic_depth, width=self.critic_width,
                    activation=self.critic_activation, norm=self.critic_norm, norm_position=self.norm_position,
                    norm_layers=self.norm_layers, affine=self.norm_affine, out_weight_norm=self.out_weight_norm,
                    dropout=self.dropout)

    @classmethod
    def from_dict(cls, values: dict):
        """The config stored as ``dataclasses.asdict`` (JSON lists back to tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def member_gammas(cfg: AgentConfig, gammas: Sequence[float] | None, S: int, device) -> torch.Tensor:
    """Per-member discounts ``(S, 1)`` (``cfg.gamma`` for all when ``gammas`` is None)."""
    gammas = [cfg.gamma] * S if gammas is None else [float(g) for g in gammas]
    if len(gammas) != S or not all(0.0 <= g <= 1.0 for g in gammas):
        raise ValueError(f"gammas must be {S} values in [0, 1], got {gammas}")
    return torch.tensor(gammas, dtype=torch.float32, device=device).unsqueeze(1)


# ============================================================================ the interface
class Trainer(Protocol):
    """S seeds of one algorithm (see the module docstring)."""

    seeds: list[int]
    step: int
    info: dict[str, torch.Tensor]

    def update(self, batch: Batch, *, info: bool = False, policy_batch: Batch | None = None) -> dict[str, float]: ...

    def q1_member(self, s: int) -> nn.Module: ...

    def policy_member(self, s: int) -> Callable[[torch.Tensor], torch.Tensor]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


StepCallback = Callable[[int, Trainer, dict], bool]
"""``callback(step, trainer, metrics) -> stop``, called once before training (step 0, empty
metrics) and after every update (step = updates done). An optional attribute
``wants_info(step) -> bool`` asks :func:`train` for ``update(..., info=True)`` at that step."""


def train(cfg: AgentConfig, data, seeds: Sequence[int] = (0,), *, device: torch.device | str = "cpu",
          callback: StepCallback | None = None, trainer: Trainer | None = None, sampler: Sampler | None = None,
          progress=None, gammas: Sequence[float] | None = None) -> Trainer:
    """Train S seeds of ``cfg``'s algorithm together for ``cfg.steps`` updates (or until
    ``callback`` returns True): the one training loop of every algorithm.

    ``trainer``/``sampler`` resume a run; ``progress`` is an optional object with ``update(n)``;
    ``gammas`` gives each member its own γ (default ``cfg.gamma``).
    """
    from seemlab.rl import make_trainer

    data = data.to(device)
    trainer = trainer or make_trainer(cfg, data, seeds, device, gammas)
    sampler = sampler or Sampler(data, trainer.seeds)
    wants = getattr(callback, "wants_info", None)
    if callback is not None and trainer.step == 0 and callback(0, trainer, {}):
        return trainer
    for step in range(trainer.step + 1, cfg.steps + 1):
        batch, policy_batch = sampler(cfg.batch_size), sampler.policy_batch(cfg.batch_size)
        metrics = trainer.update(batch, info=bool(wants and wants(step)), policy_batch=policy_batch)
        if progress is not None:
            progress.update(1)
        if callback is not None and callback(step, trainer, metrics):
            break
    return trainer


# ============================================================================ shared pieces
def ensemble_q(net: EnsembleMLP, C: int, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    """``(S, B, d_s), (S, B, d_a) -> (S, C, B)``: the C critics of each seed, stored as members
    ``s·C .. s·C + C − 1`` of ``net``, on the same inputs."""
    x = torch.cat([obs, act], -1)
    S, B, d = x.shape
    x = x.unsqueeze(1).expand(S, C, B, d).reshape(S * C, B, d)
    return net(x).view(S, C, B)


@torch.no_grad()
def lerp_targets(pairs: Sequence[tuple[nn.Module, nn.Module]], tau: float) -> None:
    """θ' ← τθ + (1 − τ)θ' for each (online, target) pair."""
    for net, tgt in pairs:
        torch._foreach_lerp_(list(tgt.parameters()), list(net.parameters()), tau)


def grad_norm(net: EnsembleMLP) -> torch.Tensor:
    """Per-member gradient 2-norm ``(K,)`` over all of a member's parameters."""
    sq = [p.grad.reshape(p.shape[0], -1).pow(2).sum(1) for p in net.stacked if p.grad is not None]
    return torch.stack(sq).sum(0).sqrt() if sq else torch.zeros(net.K)


def generator_states(generators: Sequence[torch.Generator]) -> list[torch.Tensor]:
    return [g.get_state() for g in generators]


def set_generator_states(generators: Sequence[torch.Generator], states: Sequence[torch.Tensor]) -> None:
    for g, s in zip(generators, states):
        g.set_state(s)


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


def make_optimizer(params, lr: float, *, kind: str = "adam", betas: tuple[float, float] = (0.9, 0.999),
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (AdamW if ``weight_decay``) or SGD; element-wise, so ensemble members never mix."""
    if kind not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {kind!r}; allowed values: {', '.join(OPTIMIZERS)}")
    params = list(params)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    return FusedAdam(params, lr=lr, betas=betas, weight_decay=weight_decay, decoupled=weight_decay > 0)
