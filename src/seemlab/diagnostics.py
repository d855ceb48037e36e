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
(``scale="quick"``) or ``1e6`` (``"full"``), or anything non-finite. The first such log is
``diverged_step``; the run stops cleanly at the first non-finite log (``stop_on="nonfinite"``,
default: the growth after divergence is what Theorem 4 studies), at divergence
(``"divergence"``) or never.

Any trainer can use it: call :meth:`Diagnostics.log` with a scalar critic module and a policy
function whenever :meth:`Diagnostics.wants` says so. :class:`TD3Callback` wires it into
:func:`seemlab.rl.td3.train`. The second half of the module analyses finished logs (t0, the
SEEM/Q synchronisation, the Theorem 4 fits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from seemlab.nets import n_params
from seemlab.seem import gram_blocks, seem_from_grams
from seemlab.theory import fit_line

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
    """SPEC §0.1: ``1e6`` (full) or ``100·max(r_max, 1)/(1 − γ)`` (quick; γ = 1 gives ∞)."""
    if scale == "full":
        return FULL_THRESHOLD
    return math.inf if gamma >= 1 else 100.0 * max(float(r_max), 1.0) / (1.0 - gamma)


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
        self.threshold = divergence_threshold(cfg.scale, gamma, float(data.rewards.max()))
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


class TD3Callback:
    """Runs one :class:`Diagnostics` per seed of a :class:`seemlab.rl.td3.TD3` ensemble.

    ``callback(step, agent, metrics)`` returns True once every seed has stopped.
    """

    INFO_KEYS = ("critic_grad_norm", "actor_grad_norm", "critic_loss", "actor_loss", "q1_batch")

    def __init__(self, diagnostics: Sequence[Diagnostics]):
        self.diagnostics = list(diagnostics)

    def wants_info(self, step: int) -> bool:
        return any(d.wants(step) for d in self.diagnostics)

    def __call__(self, step: int, agent, metrics: dict[str, float]) -> bool:
        for s, diag in enumerate(self.diagnostics):
            if diag.wants(step):
                extra = {k: float(agent.info[k][s]) for k in self.INFO_KEYS if k in agent.info}
                diag.log(step, agent.q1_member(s), agent.policy_member(s), extra)
        return all(d.stopped_step is not None for d in self.diagnostics)


# ============================================================================ log analysis
def final_mean(logs: dict[str, np.ndarray], key: str, frac: float = 0.2) -> float:
    """Mean of ``logs[key]`` over the last ``frac`` of the logs (at least one)."""
    v = np.asarray(logs[key], dtype=np.float64)
    k = max(1, int(round(frac * len(v))))
    return float(np.mean(v[-k:])) if len(v) else float("nan")


def t0_step(logs: dict[str, np.ndarray], thr: float = 0.95) -> float | None:
    """SPEC §0.1 t0: the first log with NTK and action similarity ≥ ``thr`` there and after it."""
    ok = (np.asarray(logs["ntk_sim"]) >= thr) & (np.asarray(logs["action_sim"]) >= thr)
    if not ok.size or not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    first = 0 if bad.size == 0 else int(bad[-1]) + 1
    return float(logs["step"][first])


def after(logs: dict[str, np.ndarray], key: str, t: float) -> np.ndarray:
    """``logs[key]`` at logged steps ≥ t."""
    return np.asarray(logs[key])[np.asarray(logs["step"]) >= t]


@dataclass(frozen=True)
class SyncCheck:
    """Fig 3 middle/right: first log of the SEEM surge t_S, of the Q rise t_Q, and their gap."""

    t_seem: float
    t_q: float
    interval: float
    gap_in_intervals: float
    spearman: float


def sync_check(logs: dict[str, np.ndarray]) -> SyncCheck:
    """t_S: first log with seem_norm > ½·max; t_Q: first log with q_data > 10× the median of the
    first 5 % of logs; the gap in units of the logging interval at the later of the two."""
    from scipy.stats import spearmanr

    steps, s, q = (np.asarray(logs[k], dtype=np.float64) for k in ("step", "seem_norm", "q_data"))
    head = q[: max(1, int(math.ceil(0.05 * len(q))))]
    iS = np.flatnonzero(s > 0.5 * np.nanmax(s))
    iQ = np.flatnonzero(q > 10 * abs(np.median(head)))
    if not (iS.size and iQ.size):
        return SyncCheck(math.nan, math.nan, math.nan, math.inf, math.nan)
    a, b = int(iS[0]), int(iQ[0])
    k = max(a, b)
    interval = steps[k] - steps[k - 1] if k > 0 else steps[1] - steps[0]
    rho = spearmanr(s, np.log(np.abs(q) + 1e-12)).statistic
    return SyncCheck(steps[a], steps[b], float(interval), abs(steps[a] - steps[b]) / interval, float(rho))


@dataclass(frozen=True)
class GrowthFit:
    """Theorem 4 on the window [t0, T] (Fig 4): the checks 1–4 and the SEEM-vs-norm slope."""

    t0: float
    norm_r2: float
    slope_ratio: float
    """fitted d‖θ‖/dt over η√P."""
    t_off: float
    """t-axis intercept of the norm line."""
    q_vs_norm: float
    """slope of log|Q| vs log‖θ‖ (≈ L = 3)."""
    q_vs_t_offset: float
    """slope of log|Q| vs log(t − t_off) (≈ 3)."""
    q_vs_t_raw: float
    """slope of log|Q| vs log t over [T/2, T] (reported)."""
    seem_vs_norm: float
    """slope of log SEEM_raw vs log‖θ‖ (≈ 2(L − 1) = 4)."""
    seem_vs_q: float
    """slope of log SEEM_raw vs log|Q| (≈ 4/3)."""


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    keep = np.isfinite(x) & np.isfinite(y)
    return fit_line(x[keep], y[keep]).slope if keep.sum() >= 3 else math.nan


def growth_fit(logs: dict[str, np.ndarray], t0: float, eta: float, n_params: int) -> GrowthFit:
    """Fit ‖θ_t‖ linearly on logs t ≥ t0 and the log-log slopes of |Q| and SEEM_raw."""
    t, norm, q = (after(logs, k, t0).astype(np.float64) for k in ("step", "param_norm", "q_abs"))
    seem = after(logs, "seem_raw", t0).astype(np.float64)
    line = fit_line(t, norm)
    t_off = -line.intercept / line.slope if line.slope else math.nan
    log_q, log_n = np.log(np.abs(q)), np.log(norm)
    pos = seem > 0
    half = t >= t[-1] / 2
    return GrowthFit(
        t0=float(t0), norm_r2=line.r2, slope_ratio=line.slope / (eta * math.sqrt(n_params)), t_off=t_off,
        q_vs_norm=_slope(log_n, log_q),
        q_vs_t_offset=_slope(np.log(np.where(t > t_off, t - t_off, np.nan)), log_q),
        q_vs_t_raw=_slope(np.log(t[half]), log_q[half]),
        seem_vs_norm=_slope(log_n[pos], np.log(seem[pos])),
        seem_vs_q=_slope(log_q[pos], np.log(seem[pos])),
    )


def steady_state(logs: dict[str, np.ndarray], eta: float, n_params: int) -> dict[str, float]:
    """Figs 1/16/17, Assumption 2, App. C.1 summary of one run's logs (NaN where t0 is missing).

    t0 and t0/T; minima over logs t ≥ t0 of the NTK, normalized-NTK and action similarity; the
    minimum parameter similarity over t ≥ max(t0, 0.2·T); the ‖θ‖ line's R² and slope/(η√P).
    """
    T = float(logs["step"][-1])
    t0 = t0_step(logs)
    out = {"T": T, "t0": math.nan if t0 is None else t0, "t0_frac": math.nan if t0 is None else t0 / T}
    if t0 is None:
        return {**out, **{k: math.nan for k in ("ntk_min", "ntk_norm_min", "action_min", "param_min",
                                                 "norm_r2", "slope_ratio")}}
    fit = fit_line(after(logs, "step", t0), after(logs, "param_norm", t0)) if len(after(logs, "step", t0)) >= 3 else None
    return {**out, "ntk_min": float(after(logs, "ntk_sim", t0).min()),
            "ntk_norm_min": float(after(logs, "ntk_sim_normalized", t0).min()),
            "action_min": float(after(logs, "action_sim", t0).min()),
            "param_min": float(after(logs, "param_sim", max(t0, 0.2 * T)).min()),
            "norm_r2": fit.r2 if fit else math.nan,
            "slope_ratio": fit.slope / (eta * math.sqrt(n_params)) if fit else math.nan}


def regularizer_summary(logs: dict[str, np.ndarray]) -> dict[str, float]:
    """Fig 6 per arm: final-window (last 20 % of logs) SEEM_raw, normalized SEEM, |Q| and
    ‖π(s) − a‖; the coefficient of variation of Q over the last half; the trend (slope per
    1000 steps) of the normalized SEEM over the last half."""
    n = len(logs["step"])
    half = slice(n // 2, None)
    q = np.asarray(logs["q_data"])[half]
    t, s = np.asarray(logs["step"])[half], np.asarray(logs["seem_norm"])[half]
    return {"seem_raw": final_mean(logs, "seem_raw"), "seem_norm": final_mean(logs, "seem_norm"),
            "q_abs": final_mean(logs, "q_abs"), "pi_data_dist": final_mean(logs, "pi_data_dist"),
            "q_cv": float(np.std(q) / (abs(np.mean(q)) + 1e-12)),
            "seem_trend": _slope(t / 1000.0, s) if len(t) >= 3 else math.nan}
