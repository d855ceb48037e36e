import math

import numpy as np
import pytest

from seemlab import theory


def singular(T=300, t_star=250.0, p=1.0, u0=1.0):
    """‖u_t‖ = u0 (1 − t/t*)^{-1/p} until the singularity, non-finite after it: (T,)."""
    t = np.arange(T, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = u0 * (1 - t / t_star) ** (-1.0 / p)
    u[t >= t_star] = np.inf
    return t.astype(int), u


def test_exponent_of_theorem3():
    assert theory.theorem3_exponent(2) == 1.0
    assert theory.theorem3_exponent(3) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="depth"):
        theory.theorem3_exponent(1)


def test_fit_line_exact_and_zero_crossing():
    t = np.arange(10.0)
    fit = theory.fit_line(t, 2.0 - 0.1 * t)
    assert fit.slope == pytest.approx(-0.1) and fit.r2 == pytest.approx(1.0)
    assert fit.zero_crossing == pytest.approx(20.0)
    assert np.isnan(theory.fit_line(t, 1 + 0.1 * t).zero_crossing)


def test_fit_line_rejects_bad_input():
    with pytest.raises(ValueError, match="finite"):
        theory.fit_line(np.arange(4.0), np.array([1, 2, np.nan, 4.0]))
    with pytest.raises(ValueError, match="length"):
        theory.fit_line(np.arange(1.0), np.arange(1.0))


def test_fit_line_through_two_points_is_exact():
    fit = theory.fit_line(np.array([1.0, 3.0]), np.array([2.0, 8.0]))
    assert fit.slope == pytest.approx(3.0) and fit.intercept == pytest.approx(-1.0) and fit.r2 == pytest.approx(1.0)


def test_threshold_window_uses_only_the_past():
    steps, u = singular()
    first, last = theory.threshold_window(u, ratio=20, width=50)
    assert last - first == 49
    assert u[last] > 20 * u[: last + 1].min() and u[last - 1] <= 20 * u[:last].min()
    # Changing what happens after the window cannot move it.
    u2 = u.copy()
    u2[last + 1 :] = 5.0
    assert theory.threshold_window(u2) == (first, last)
    assert theory.threshold_window(np.ones(100)) is None
    with pytest.raises(ValueError, match="ratio"):
        theory.threshold_window(u, ratio=0.5)


@pytest.mark.parametrize("p", [1.0, 4 / 3])
def test_predict_crash_on_exact_law(p):
    steps, u = singular(p=p)
    crash = int(np.flatnonzero(~np.isfinite(u))[0])
    pred = theory.predict_crash(steps, u, crash, p=p)
    assert pred.predicted == pytest.approx(250.0, rel=1e-6)
    assert abs(pred.rel_error) < 1e-6
    p_best, r2 = theory.best_exponent(steps, u, pred.fit.window)
    assert p_best == pytest.approx(p) and set(r2) == set(theory.EXPONENTS)


def test_posthoc_window_is_the_papers():
    assert theory.posthoc_window(605) == (450, 500)
    assert theory.posthoc_window(100) is None


def test_crash_summary_without_crash_is_nan():
    out = theory.crash_summary(np.arange(100), np.ones(100), None)
    assert out["window"] is None and np.isnan(out["rel_error"]) and out["posthoc_window"] is None


def test_alignment_and_lead_time():
    u = np.array([3.0, 4.0])
    assert theory.alignment(u, np.array([0.6, 0.8]) * 1j) == pytest.approx(1.0)
    assert theory.alignment(u, np.array([0.8, -0.6])) == pytest.approx(0.0)
    steps = np.array([0, 25, 50, 75])
    assert theory.lead_time(steps, np.array([0, 0.01, 0.05, 0.3]), 80, tau=0.02) == 30
    assert np.isnan(theory.lead_time(steps, np.zeros(4), 80, tau=0.02))
    assert np.isnan(theory.lead_time(steps, np.ones(4), None, tau=0.02))


def test_loglog_slope():
    eta = np.array([1e-3, 1e-4, 1e-5])
    assert theory.loglog_slope(eta, 7 * eta) == pytest.approx(1.0)


def test_t0_rule_and_window():
    logs = {"step": np.arange(0, 1000, 100.0),
            "ntk_sim": np.array([.1, .5, .96, .97, .94, .96, .99, .99, 1, 1]),
            "action_sim": np.ones(10)}
    assert theory.t0_step(logs) == 500
    logs["action_sim"][-1] = 0.5
    assert theory.t0_step(logs) is None


def test_growth_fit_recovers_theorem4_exponents():
    t = np.arange(1000, 10001, 500.0)
    eta, P = 3e-4, 5000
    norm = eta * math.sqrt(P) * (t - 200)
    logs = {"step": t, "param_norm": norm, "q_abs": norm ** 3, "seem_raw": 7 * norm ** 4}
    fit = theory.growth_fit(logs, 1000, eta, P)
    assert fit.norm_r2 == pytest.approx(1) and fit.slope_ratio == pytest.approx(1) and fit.slope_ratio_late == pytest.approx(1)
    assert fit.t_off == pytest.approx(200) and fit.q_vs_t_offset == pytest.approx(3)
    assert fit.q_vs_norm == pytest.approx(3) and fit.seem_vs_norm == pytest.approx(4)
    assert fit.seem_vs_q == pytest.approx(4 / 3)


def test_sync_check_finds_simultaneous_jumps():
    steps = np.arange(0, 2000, 50.0)
    jump = steps >= 600
    q = np.where(jump, 1e4 * (1 + steps / 1e3) ** 3, 1.0)
    # normalized SEEM on a slowly sinking plateau, raw SEEM growing with Q
    logs = {"step": steps, "seem_norm": np.where(jump, 0.7 - steps / 1e5, 0.01), "q_data": q, "seem_raw": q ** (4 / 3)}
    sync = theory.sync_check(logs)
    assert sync.t_seem == sync.t_q == 600 and sync.gap_in_intervals == 0 and sync.interval == 50
    assert sync.spearman < 0.5 and sync.spearman_raw == pytest.approx(1)


def test_alarm_step_turns_and_stays_above_tau():
    steps = np.array([0, 10, 20, 30, 40, 50])
    seem = np.array([0.0, 0.3, 0.01, 0.2, 0.4, np.nan])   # a spike, a dip, then above for good
    assert theory.alarm_step(steps, seem, 0.05) == 30
    assert theory.alarm_step(steps, seem, 0.05, until=10) == 10    # only logs up to `until`
    assert theory.alarm_step(steps, seem, 0.05, until=20) is None  # below at the last log
    assert theory.alarm_step(steps, np.full(6, np.nan), 0.05) is None
    assert theory.alarm_lead(steps, seem, 40, 0.05) == 10
    assert theory.alarm_lead(steps, seem, 30, 0.05) == 0           # alarm at the divergence log
    assert np.isnan(theory.alarm_lead(steps, seem, 20, 0.05))      # below at the divergence: a miss
    assert np.isnan(theory.alarm_lead(steps, seem, None, 0.05))
    assert theory.false_alarm(seem, 0.05) and not theory.false_alarm(np.array([0.0, 0.05, np.nan]), 0.05)


def test_gamma_bracket():
    b = theory.gamma_bracket({0.0: False, 0.92: False, 0.925: False, 0.93: True, 0.95: True, 0.99: True})
    assert (b.lo, b.hi, b.clean) == (0.925, 0.93, True)
    assert b.contains(0.928) and not b.contains(0.925) and b.contains(0.93)
    messy = theory.gamma_bracket({0.9: True, 0.95: False, 0.99: True})
    assert (messy.lo, messy.hi, messy.clean) == (0.95, 0.9, False)
    none = theory.gamma_bracket({0.0: False, 0.5: False})
    assert none.hi is None and none.clean and none.contains(0.928)
