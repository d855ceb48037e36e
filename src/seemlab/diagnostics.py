"""Divergence diagnostics of an actor-critic run: SEEM in the loop (SPEC §0.1).

A :class:`Diagnostics` object watches one run (one seed). It draws a fixed probe batch of M
dataset transitions once, and at each logged step t records, for the critic Q1 and the policy π:

- SEEM of ``A = γ·G(X*, X) − G(X, X)`` with ``X = (s, a)`` and ``X* = (s', π(s'))`` from the
  current actor: ``seem_raw`` (true G), ``seem_norm`` (÷‖A‖_F), ``seem_code`` (÷P, the authors'
  gradient scaling), ``seem_imag`` (imaginary part of the top eigenvalue);
- Q statistics: ``q_data`` = mean Q1(s, a_data) (the plotted Q), ``q_abs``, ``q_pi`` = mean
  Q1(s, π(s)), and ``q_batch`` (the training minibatch's mean Q1) when the trainer provides it;
- ``param_norm`` ‖θ‖₂ of Q1 (all parameters), ``weight_norm`` and ``bias_norm``;
- ``act_ratio`` = mean ‖π(s)‖₂ / ‖corner‖₂ of the action box, ``act_ratio_data`` (dataset
  actions), ``act_inf`` = mean ‖π(s)/a_max‖_∞, ``pi_data_dist`` = mean ‖π(s) − a‖₂;
- gradient norms and losses passed by the trainer (``critic_grad_norm``, ...).

It keeps G_t(X, X), π_t(s') and θ_t in memory; :meth:`Diagnostics.finalize` turns them into the
similarities against the last log T: ``ntk_sim`` = cos(vec G_t, vec G_T), ``ntk_sim_normalized``
(entries divided by ‖x_i‖‖x_j‖, Assumption 2), ``action_sim`` = mean_i cos(π_t(s'_i), π_T(s'_i)),
``param_sim`` = cos(θ_t, θ_T). Then the stored matrices are dropped.

Divergence (SPEC §0.1): mean |Q1(s, a)| over the probe above ``100·max(r_max, 1)/(1 − γ)``
with r_max the largest |reward| of the dataset (``scale="quick"``) or ``1e6`` (``"full"``), or anything non-finite. The first such log is
``diverged_step``; the run stops cleanly at the first non-finite log (``stop_on="nonfinite"``,
default: the growth after divergence is what Theorem 4 studies), at divergence
(``"divergence"``) or never.

Any trainer can use it: call :meth:`Diagnostics.log` with a scalar critic module and a policy
function whenever :meth:`Diagnostics.wants` says so. :class:`DiagnosticsCallback` wires it into
:func:`seemlab.rl.base.train`, for every algorithm. The analyses of finished logs (t0, the SEEM/Q synchronisation,
the Theorem 4 fits) live in :mod:`seemlab.theory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from seemlab.seem import gram_blocks, seem_from_grams

SCALES = ("quick", "full")
STOP_ON = ("nonfinite", "divergence", "never")
FULL_THRESHOLD = 1e6


@dataclass(frozen=True)
class DiagnosticsConfig:
    """What to log and when (SPEC §0.1; defaults are the QUICK cadence with dense early logs)."""

    probe_size: int = 256
    """M: probe transitions, drawn once (FULL: 2560)."""
    every: int = 1000
    """Log every this many steps after ``dense_until`` (FULL: 10 000)."""
    dense_every: int = 50
    """Log every this many steps up to ``dense_until`` (the SEEM/Q sync check)."""
    dense_until: int = 2000
    """End of the dense phase (0: none)."""
    scale: str = "quick"
    """Divergence threshold: "quick" 100·max(r_max, 1)/(1 − γ), "full" 1e6."""
    stop_on: str = "nonfinite"
    """Stop the run at the first "nonfinite" log, at "divergence", or "never"."""
    seem: bool = True
    """Compute the Gram matrices, SEEM and the NTK similarity."""
    eig_method: str = "auto"
    """Eigensolver of seemlab.seem."""

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        if self.stop_on not in STOP_ON:
            raise ValueError(f"stop_on must be one of {', '.join(STOP_ON)}, got {self.stop_on!r}")
        for name in ("probe_size", "every", "dense_every"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")

    def is_log_step(self, step: int, total: int) -> bool:
        """Whether step ``step`` (updates done, 0 = before training) of ``total`` is logged."""
        if step == 0 or step == total:
            return True
        if step <= self.dense_until:
            return step % self.dense_every == 0
        return step % self.every == 0


def divergence_threshold(scale: str, gamma: float, r_max: float) -> float:
    """SPEC §0.1: ``1e6`` (full) or ``100·max(r_max, 1)/(1 − γ)`` (quick; γ = 1 gives ∞).

    ``r_max``: the largest |reward| of the dataset (see :func:`reward_scale`).
    """
    if scale == "full":
        return FULL_THRESHOLD
    return math.inf if gamma >= 1 else 100.0 * max(float(r_max), 1.0) / (1.0 - gamma)


def reward_scale(rewards: torch.Tensor) -> float:
    """SPEC §0.1's r_max, read as max |r|: the threshold bounds |Q|, whose scale is
    max |r|/(1 − γ) whatever the sign; the signed maximum would put negative-reward data
    on the floor of 1 and flag a healthy Q as diverged."""
    return float(rewards.abs().max())


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    den = a.norm() * b.norm()
    return float(a @ b / den) if den > 0 and torch.isfinite(den) else float("nan")


def critic_mode(q1: nn.Module) -> nn.Module:
    """Eval mode (dropout off: a deterministic kernel), but batch norms in train mode, as in training."""
    q1.eval()
    for m in q1.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()
    return q1


class Diagnostics:
    """Logs of one run; see the module docstring.

    Args:
        cfg: cadence and rules.
        data: a :class:`seemlab.data.TransitionDataset` (probe source, r_max, action box).
        gamma: the run's γ (for A and the threshold).
        seed: seeds the probe draw.
        total_steps: T of the run (the last step is always logged).
    """

    def __init__(self, cfg: DiagnosticsConfig, data, gamma: float, seed: int, total_steps: int):
        self.cfg, self.gamma, self.total = cfg, float(gamma), int(total_steps)
        g = torch.Generator().manual_seed(int(seed) * 7_368_787 + 11)
        idx = torch.randperm(len(data), generator=g)[: min(cfg.probe_size, len(data))].to(data.device)
        self.s, self.a, self.s2 = data.observations[idx], data.actions[idx], data.next_observations[idx]
        self.threshold = divergence_threshold(cfg.scale, gamma, reward_scale(data.rewards))
        a_max = torch.maximum(data.action_low.abs(), data.action_high.abs()).to(data.device)
        self.a_max, self.corner = a_max, float(a_max.norm())
        self.records: list[dict[str, float]] = []
        self.store: dict[str, list[torch.Tensor]] = {"G": [], "pi_next": [], "theta": []}
        self.diverged_step: int | None = None
        self.stopped_step: int | None = None
        self.stop_reason = ""

    # ----------------------------------------------------------------- logging
    def wants(self, step: int) -> bool:
        return self.stopped_step is None and self.cfg.is_log_step(step, self.total)

    def log(self, step: int, q1: nn.Module, policy: Callable[[torch.Tensor], torch.Tensor],
            extra: dict[str, float] | None = None) -> bool:
        """Record step ``step``; returns True when the run should stop.

        ``q1``: the critic, ``(N, d_s + d_a) -> (N,)`` (use a copy: its mode is changed).
        ``policy``: ``(N, d_s) -> (N, d_a)`` actions in the box.
        """
        q1 = critic_mode(q1)
        with torch.no_grad():
            pi, pi_next = policy(self.s), policy(self.s2)
            X, X_star = torch.cat([self.s, self.a], 1), torch.cat([self.s2, pi_next], 1)
            q_data, q_pi = q1(X), q1(torch.cat([self.s, pi], 1))
            theta = torch.cat([p.detach().reshape(-1) for p in q1.parameters()])
        rec = {"step": float(step), **self._q_stats(q_data, q_pi), **self._norms(q1, theta),
               **self._actions(pi), **(extra or {})}
        finite = all(math.isfinite(v) for v in rec.values()) and bool(torch.isfinite(theta).all())
        if self.cfg.seem and finite:
            rec.update(self._seem(q1, X, X_star, theta.numel()))
            finite = math.isfinite(rec["seem_raw"])
        if finite:
            self.records.append(rec)
            self._keep(pi_next, theta)
        return self._judge(step, rec, finite)

    def _q_stats(self, q_data: torch.Tensor, q_pi: torch.Tensor) -> dict[str, float]:
        return {"q_data": float(q_data.mean()), "q_abs": float(q_data.abs().mean()), "q_pi": float(q_pi.mean())}

    def _norms(self, q1: nn.Module, theta: torch.Tensor) -> dict[str, float]:
        w = [p.detach().reshape(-1) for n, p in q1.named_parameters() if not n.endswith("bias")]
        b = [p.detach().reshape(-1) for n, p in q1.named_parameters() if n.endswith("bias")]
        norm = lambda ps: float(torch.cat(ps).double().norm()) if ps else 0.0  # noqa: E731
        return {"param_norm": float(theta.double().norm()), "weight_norm": norm(w), "bias_norm": norm(b)}

    def _actions(self, pi: torch.Tensor) -> dict[str, float]:
        return {
            "act_ratio": float(pi.norm(dim=1).mean()) / self.corner,
            "act_ratio_data": float(self.a.norm(dim=1).mean()) / self.corner,
            "act_inf": float((pi / self.a_max).abs().amax(dim=1).mean()),
            "pi_data_dist": float((pi - self.a).norm(dim=1).mean()),
        }

    def _seem(self, q1: nn.Module, X: torch.Tensor, X_star: torch.Tensor, P: int) -> dict[str, float]:
        G_star_x, G_xx = gram_blocks(q1, X, X_star)
        res = seem_from_grams(G_star_x, G_xx, self.gamma, n_params=P, method=self.cfg.eig_method)
        self._G = G_xx.detach().float().cpu()
        return {"seem_raw": res.raw, "seem_norm": res.normalized, "seem_code": res.code,
                "seem_imag": float(res.eigenvalue.imag), "a_fro": res.fro}

    def _keep(self, pi_next: torch.Tensor, theta: torch.Tensor) -> None:
        self.store["pi_next"].append(pi_next.detach().float().cpu())
        self.store["theta"].append(theta.detach().float().cpu())
        if self.cfg.seem:
            self.store["G"].append(self._G)

    def _judge(self, step: int, rec: dict[str, float], finite: bool) -> bool:
        if self.diverged_step is None and (not finite or rec["q_abs"] > self.threshold):
            self.diverged_step = step
        stop = {"nonfinite": not finite, "divergence": self.diverged_step is not None,
                "never": False}[self.cfg.stop_on]
        if stop:
            self.stopped_step = step
            self.stop_reason = "non-finite values" if not finite else "divergence threshold"
        return stop

    # ----------------------------------------------------------------- results
    def finalize(self) -> dict[str, np.ndarray]:
        """Logs as arrays ``(n_logs,)`` per key, with the similarities to the last log."""
        keys = sorted({k for r in self.records for k in r})
        logs = {k: np.array([r.get(k, np.nan) for r in self.records], dtype=np.float64) for k in keys}
        n = len(self.records)
        if n:
            pis, thetas = self.store["pi_next"], self.store["theta"]
            logs["action_sim"] = np.array([float(nn.functional.cosine_similarity(
                p.double(), pis[-1].double(), dim=1).mean()) for p in pis])
            logs["param_sim"] = np.array([_cos(t, thetas[-1]) for t in thetas])
            if self.cfg.seem and self.store["G"]:
                x = torch.cat([self.s, self.a], 1).double().norm(dim=1).cpu()
                scale = 1.0 / torch.outer(x, x)
                Gs = self.store["G"]
                logs["ntk_sim"] = np.array([_cos(G, Gs[-1]) for G in Gs])
                logs["ntk_sim_normalized"] = np.array([_cos(G.double() * scale, Gs[-1].double() * scale) for G in Gs])
        return logs

    def summary(self) -> dict:
        return {"diverged_step": self.diverged_step, "stopped_step": self.stopped_step,
                "stop_reason": self.stop_reason, "threshold": self.threshold, "n_logs": len(self.records)}

    def state_dict(self) -> dict:
        return {"records": list(self.records), "store": {k: list(v) for k, v in self.store.items()},
                **self.summary()}

    def load_state_dict(self, state: dict) -> None:
        self.records = list(state["records"])
        self.store = {k: list(v) for k, v in state["store"].items()}
        self.diverged_step, self.stopped_step = state["diverged_step"], state["stopped_step"]
        self.stop_reason = state["stop_reason"]


class DiagnosticsCallback:
    """Runs one :class:`Diagnostics` per seed of any trainer (:class:`seemlab.rl.base.Trainer`):
    the step callback of :func:`seemlab.rl.base.train`.

    At a logged step it asks the trainer for per-seed tensors (``wants_info``) and passes them,
    seed s's entries, as extra columns. ``callback(step, trainer, metrics)`` returns True once
    every seed has stopped.
    """

    def __init__(self, diagnostics: Sequence[Diagnostics]):
        self.diagnostics = list(diagnostics)

    def wants_info(self, step: int) -> bool:
        return any(d.wants(step) for d in self.diagnostics)

    def __call__(self, step: int, trainer, metrics: dict[str, float]) -> bool:
        for s, diag in enumerate(self.diagnostics):
            if diag.wants(step):
                extra = {k: float(v[s]) for k, v in trainer.info.items()}
                diag.log(step, trainer.q1_member(s), trainer.policy_member(s), extra)
        return all(d.stopped_step is not None for d in self.diagnostics)
