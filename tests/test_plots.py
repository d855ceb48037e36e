"""Shared plotting helpers draw what they say."""

import matplotlib

matplotlib.use("Agg")

from seemlab.plots import crash_fit, panels  # noqa: E402


def test_crash_fit_draws_the_line_window_prediction_and_crash():
    fig, axes = panels(1)
    row = {"window": (10, 20), "predicted": 30.2, "slope": -0.1, "intercept": 3.0}
    crash_fit(axes[0], row, 31)
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert labels == ["fit on the window", "predicted 30", "NaN at 31"]
    xs = axes[0].get_lines()[0].get_xdata()
    assert xs[0] == 10 and xs[-1] == 31  # from the window's start to the predicted crash, rounded up


def test_crash_fit_without_window_or_crash_draws_nothing():
    fig, axes = panels(1)
    crash_fit(axes[0], {"window": None}, None)
    assert axes[0].get_lines() == []
