"""Fits that turn the theorems into predictions (Theorem 3, Sec 3.2 of the paper), and the
post-hoc analyses of :class:`seemlab.diagnostics.Diagnostics` logs (t0, the SEEM/Q
synchronisation, the Theorem 4 growth fits, the steady-state and regularizer summaries).

Conventions: a trajectory is logged once per step, ``steps: (T,)`` and ``u_norm: (T,)`` with
``u_norm[t] = ‖u_t‖₂``, the TD-error norm before the update of step ``steps[t]``. The crash step
is the first step whose ‖u‖ (or a parameter) is non-finite; it is never used to choose a window.

Theorem 3 (iii) gives ``‖u_t‖ = O((1 − C'ληt)^{−L/(2L−2)})``: ``‖u_t‖^{−p}`` with
``p = (2L−2)/L`` is linear in t and reaches zero at the singular step (p = 1 for L = 2,
p = 4/3 for L = 3).

Diagnostics logs are a dict of ``(n_logs,)`` arrays keyed as :mod:`seemlab.diagnostics` records
them, ``logs["step"]`` the logged steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EXPONENTS = (0.5, 1.0, 4.0 / 3.0, 2.0)
"""Candidate exponents p of ‖u‖^{-p} compared by :func:`best_exponent` (SPEC Thm 3 (c))."""


def theorem3_exponent(depth: int) -> float:
    """The p with ``‖u_t‖^{-p}`` linear in t for an L-layer ReLU MLP: ``(2L − 2) / L``."""
    if depth < 2:
        raise ValueError(f"depth must be >= 2 (L = 1 grows exponentially); got {depth}")
    return (2 * depth - 2) / depth


@dataclass(frozen=True)
class LineFit:
    """Least-squares line ``y ≈ slope·t + intercept``; ``window = (first, last)`` log indices."""

    window: tuple[int, int]
    slope: float
    intercept: float
    r2: float

    @property
    def zero_crossing(self) -> float:
        """The step where the line reaches zero; NaN if it never does going forward."""
        if not self.slope < 0:
            return float("nan")
        return -self.intercept / self.slope


@dataclass(frozen=True)
class CrashPrediction:
    """A crash-step prediction: the fit, the predicted and observed steps, the error.

    ``rel_error = (predicted − observed) / observed`` (NaN when the run did not crash).
    """

    fit: LineFit
    exponent: float
    predicted: float
    observed: int | None

    @property
    def rel_error(self) -> float:
        if self.observed is None or not np.isfinite(self.predicted):
            return float("nan")
        return (self.predicted - self.observed) / self.observed


def fit_line(t: np.ndarray, y: np.ndarray, window: tuple[int, int] | None = None) -> LineFit:
    """Least-squares line through ``(t, y)``, both ``(n,)`` with n ≥ 2, all finite.

    Two points give the line through them exactly (R² = 1). ``window`` only labels the fit
    (default: indices ``(0, n − 1)``).
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if t.shape != y.shape or t.ndim != 1 or t.size < 2:
        raise ValueError(f"t and y must be equal 1-D arrays of length >= 2; got {t.shape}, {y.shape}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError("fit_line needs finite values; cut the window before the crash")
    slope, intercept = np.polyfit(t, y, 1)
    resid = y - (slope * t + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    window = window or (0, t.size - 1)
    return LineFit(window, float(slope), float(intercept), r2)


def threshold_window(u_norm: np.ndarray, *, ratio: float = 20.0, width: int = 50) -> tuple[int, int] | None:
    """SPEC's pre-registered fit window, as indices ``(first, last)`` into ``u_norm: (T,)``.

    ``last`` is the first index where ``u_norm > ratio · min(u_norm[:last+1])``; the window is
    the ``width`` entries ending there. ``None`` if the threshold is never met (or too early
    for a full window). Only the past is used, so the rule cannot peek at the crash.
    """
    if ratio <= 1 or width < 3:
        raise ValueError(f"need ratio > 1 and width >= 3; got ratio={ratio}, width={width}")
    u = np.asarray(u_norm, dtype=np.float64)
    finite = np.isfinite(u)
    if not finite.any():
        return None
    running_min = np.minimum.accumulate(np.where(finite, u, np.inf))
    hits = np.flatnonzero(finite & (u > ratio * running_min))
    if hits.size == 0 or hits[0] < width - 1:
        return None
    last = int(hits[0])
    return last - width + 1, last


def posthoc_window(crash_index: int, *, lead: int = 105, width: int = 50) -> tuple[int, int] | None:
    """The paper's post-hoc window: ``width`` entries ending ``lead`` before the crash.

    Fig 2 fits steps 450–500 for a crash at 605, i.e. lead 105, width 50 (51 points). Reported,
    never asserted: it uses the crash it predicts.
    """
    last = crash_index - lead
    first = last - width
    return (first, last) if first >= 0 else None


def fit_inverse_power(steps: np.ndarray, u_norm: np.ndarray, window: tuple[int, int], p: float) -> LineFit:
    """Line through ``‖u_t‖^{-p}`` against t over the index ``window`` (inclusive)."""
    first, last = window
    sl = slice(first, last + 1)
    return fit_line(np.asarray(steps)[sl], np.asarray(u_norm, dtype=np.float64)[sl] ** (-p), window)


def predict_crash(
    steps: np.ndarray,
    u_norm: np.ndarray,
    crash_step: int | None,
    *,
    p: float = 1.0,
    window: tuple[int, int] | None = None,
    ratio: float = 20.0,
    width: int = 50,
) -> CrashPrediction | None:
    """Predict the crash step as the zero crossing of the line through ``‖u‖^{-p}``.

    ``steps, u_norm: (T,)``. ``window`` (indices) defaults to :func:`threshold_window`;
    returns ``None`` when no window exists. ``crash_step`` is only stored for the error.
    """
    if window is None:
        window = threshold_window(u_norm, ratio=ratio, width=width)
    if window is None:
        return None
    fit = fit_inverse_power(steps, u_norm, window, p)
    return CrashPrediction(fit=fit, exponent=p, predicted=fit.zero_crossing, observed=crash_step)


def best_exponent(
    steps: np.ndarray, u_norm: np.ndarray, window: tuple[int, int], exponents=EXPONENTS
) -> tuple[float, dict[float, float]]:
    """The p among ``exponents`` whose ``‖u‖^{-p}`` line has the best R² over ``window``.

    Returns ``(p_best, {p: R²})``. Ties go to the first p listed.
    """
    r2 = {float(p): fit_inverse_power(steps, u_norm, window, p).r2 for p in exponents}
    p_best = max(r2, key=lambda p: (np.nan_to_num(r2[p], nan=-np.inf), -list(r2).index(p)))
    return p_best, r2


def alignment(u: np.ndarray, v: np.ndarray) -> float:
    """``|cos(u, v)|`` between ``u: (M,)`` real and ``v: (M,)``, e.g. the top right eigenvector
    ``seemlab.seem.SEEMResult.eigenvector`` (complex allowed: ``|⟨v, u⟩| / (‖u‖‖v‖)``)."""
    u = np.asarray(u, dtype=np.float64)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0 or not (np.isfinite(nu) and np.isfinite(nv)):
        return float("nan")
    return float(abs(np.vdot(v, u)) / (nu * nv))


def lead_time(steps: np.ndarray, seem_norm: np.ndarray, diverged_step: int | None, tau: float) -> float:
    """Early warning: ``diverged_step`` minus the first logged step with SEEM > ``tau``.

    ``steps, seem_norm: (K,)`` are the SEEM logs. NaN if the run never diverged or SEEM never
    crossed ``tau`` before it did (then the warning failed: callers count that as a miss).
    """
    if diverged_step is None:
        return float("nan")
    steps = np.asarray(steps)
    hit = np.flatnonzero((np.asarray(seem_norm) > tau) & (steps <= diverged_step))
    return float(diverged_step - steps[hit[0]]) if hit.size else float("nan")


def alarm_step(steps: np.ndarray, seem_norm: np.ndarray, tau: float, until: float | None = None) -> float | None:
    """Early warning: the first logged step from which SEEM > ``tau`` at every later finite log
    up to step ``until`` (inclusive; default the last log), i.e. where it turns and stays positive.

    ``steps, seem_norm: (K,)`` are the SEEM logs; non-finite SEEM logs (a crashed network) are
    skipped. None when no finite log up to ``until`` exists or the last one is ≤ ``tau``.
    """
    steps = np.asarray(steps, dtype=np.float64)
    s = np.asarray(seem_norm, dtype=np.float64)
    keep = np.isfinite(s) & (steps <= (np.inf if until is None else until))
    steps, s = steps[keep], s[keep]
    if not s.size or not s[-1] > tau:
        return None
    below = np.flatnonzero(~(s > tau))
    return float(steps[0 if below.size == 0 else int(below[-1]) + 1])


def alarm_lead(steps: np.ndarray, seem_norm: np.ndarray, diverged_step: int | None, tau: float) -> float:
    """``diverged_step`` minus :func:`alarm_step` with ``until=diverged_step``: how many steps
    before the divergence SEEM turned and stayed above ``tau`` (0: at the divergence log itself).
    NaN if the run never diverged or SEEM was not above ``tau`` at the divergence (a miss)."""
    if diverged_step is None:
        return float("nan")
    t = alarm_step(steps, seem_norm, tau, until=diverged_step)
    return float("nan") if t is None else float(diverged_step - t)


def false_alarm(seem_norm: np.ndarray, tau: float) -> bool:
    """Whether any finite SEEM log exceeds ``tau`` (an alarm, false when the run never diverges)."""
    s = np.asarray(seem_norm, dtype=np.float64)
    return bool(np.any(s[np.isfinite(s)] > tau))


@dataclass(frozen=True)
class GammaBracket:
    """The divergence transition of a γ sweep: ``lo`` the largest non-diverging γ, ``hi`` the
    smallest diverging γ (None when there is none); ``clean`` when every γ < hi stays bounded and
    every γ ≥ hi diverges, i.e. ``lo < hi``."""

    lo: float | None
    hi: float | None
    clean: bool

    def contains(self, gamma: float) -> bool:
        """Whether ``lo < gamma ≤ hi`` (a missing end is open)."""
        return (self.lo is None or self.lo < gamma) and (self.hi is None or gamma <= self.hi)


def gamma_bracket(diverged: dict[float, bool]) -> GammaBracket:
    """The :class:`GammaBracket` of ``{γ: diverged}``."""
    lo = max((g for g, d in diverged.items() if not d), default=None)
    hi = min((g for g, d in diverged.items() if d), default=None)
    clean = lo is None or hi is None or lo < hi
    return GammaBracket(None if lo is None else float(lo), None if hi is None else float(hi), bool(clean))


def loglog_slope(eta: np.ndarray, err: np.ndarray) -> float:
    """Slope of ``log err`` against ``log eta``, both ``(n,)`` positive, n ≥ 2 (Theorem 1: the
    relative error is O(η), slope 1)."""
    return fit_line(np.log(np.asarray(eta, float)), np.log(np.asarray(err, float))).slope


def crash_summary(
    steps: np.ndarray, u_norm: np.ndarray, crash_step: int | None, *, p: float = 1.0, tie: float = 1e-4
) -> dict:
    """Everything the crash notebooks report for one run (``steps, u_norm: (T,)``, one log per
    step from 0), as plain numbers: the pre-registered prediction (``window``, ``r2``,
    ``predicted``, ``rel_error``), the best exponent and whether ``p`` is best within ``tie``
    in R² (``p_best``, ``p_ok``, ``r2_by_p``), and the paper's post-hoc window (``posthoc_*``).
    NaN where a quantity does not exist (no crash, no window).
    """
    nan = float("nan")
    out = dict(crash=crash_step, window=None, r2=nan, slope=nan, intercept=nan, predicted=nan, rel_error=nan,
               p_best=nan, p_ok=False, r2_by_p={}, posthoc_window=None, posthoc_rel_error=nan,
               posthoc_slope=nan, posthoc_intercept=nan)
    pred = predict_crash(steps, u_norm, crash_step, p=p)
    if pred is not None:
        out.update(window=pred.fit.window, r2=pred.fit.r2, slope=pred.fit.slope, intercept=pred.fit.intercept,
                   predicted=pred.predicted, rel_error=pred.rel_error)
        p_best, r2 = best_exponent(steps, u_norm, pred.fit.window)
        out.update(p_best=p_best, r2_by_p=r2, p_ok=bool(r2[float(p)] >= max(r2.values()) - tie))
    window = posthoc_window(crash_step) if crash_step is not None else None
    if window is not None:
        post = predict_crash(steps, u_norm, crash_step, p=p, window=window)
        out.update(posthoc_window=window, posthoc_rel_error=post.rel_error, posthoc_slope=post.fit.slope,
                   posthoc_intercept=post.fit.intercept)
    return out


# ============================================================================ logs of a Diagnostics run
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
    """Spearman(normalized SEEM, log|Q|) over all logs."""
    spearman_raw: float
    """Spearman(raw SEEM, log|Q|): the normalized SEEM plateaus once the kernel settles, so its
    ranks on the plateau follow tiny drifts; the raw SEEM keeps growing with ‖θ‖."""


def sync_check(logs: dict[str, np.ndarray]) -> SyncCheck:
    """t_S: first log with seem_norm > ½·max; t_Q: first log with q_data > 10× the median of the
    first 5 % of logs; the gap in units of the logging interval at the later of the two."""
    from scipy.stats import spearmanr

    steps, s, q = (np.asarray(logs[k], dtype=np.float64) for k in ("step", "seem_norm", "q_data"))
    head = q[: max(1, int(math.ceil(0.05 * len(q))))]
    iS = np.flatnonzero(s > 0.5 * np.nanmax(s))
    iQ = np.flatnonzero(q > 10 * abs(np.median(head)))
    if not (iS.size and iQ.size):
        return SyncCheck(math.nan, math.nan, math.nan, math.inf, math.nan, math.nan)
    a, b = int(iS[0]), int(iQ[0])
    k = max(a, b)
    interval = steps[k] - steps[k - 1] if k > 0 else steps[1] - steps[0]
    log_q = np.log(np.abs(q) + 1e-12)
    rho, rho_raw = (float(spearmanr(x, log_q).statistic) for x in (s, np.asarray(logs["seem_raw"], dtype=np.float64)))
    return SyncCheck(steps[a], steps[b], float(interval), abs(steps[a] - steps[b]) / interval, rho, rho_raw)


@dataclass(frozen=True)
class GrowthFit:
    """Theorem 4 on the window [t0, T] (Fig 4): the checks 1–4 and the SEEM-vs-norm slope."""

    t0: float
    norm_r2: float
    slope_ratio: float
    """fitted d‖θ‖/dt over η√P."""
    slope_ratio_late: float
    """the same on [T/2, T] (reported): Theorem 4's slope is asymptotic, and Adam's steps exceed η
    while the gradient still grows faster than its second-moment average."""
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
        t0=float(t0), norm_r2=line.r2, slope_ratio=line.slope / (eta * math.sqrt(n_params)),
        slope_ratio_late=_slope(t[half], norm[half]) / (eta * math.sqrt(n_params)), t_off=t_off,
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
