"""Shared plotting helpers draw what they say."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

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


def _rows(axes):
    """Panel counts per row of the grid, from the axes' subplot positions."""
    rows = {}
    for ax in axes:
        spec = ax.get_subplotspec()
        rows[spec.rowspan.start] = rows.get(spec.rowspan.start, 0) + 1
    return [rows[r] for r in sorted(rows)]


def test_panels_wraps_more_than_four_into_rows_in_reading_order():
    import matplotlib.pyplot as plt

    from seemlab.plots import MAX_COLS, PAGE_WIDTH

    fig, axes = panels(7, width=2.0, height=2.0)
    assert axes.shape == (7,) and len(fig.axes) == 7  # the 8th slot of the 2 x 4 grid is removed
    assert _rows(axes) == [MAX_COLS, 3]
    assert [ax.get_subplotspec().colspan.start for ax in axes] == [0, 1, 2, 3, 0, 1, 2]
    assert tuple(fig.get_size_inches()) == (2.0 * MAX_COLS, 4.0)
    plt.close(fig)
    fig, axes = panels(4, width=2.5)
    assert axes.shape == (4,) and _rows(axes) == [4]
    fig, axes = panels(4, width=3.0)  # 12 inches would not fit the page: 2 x 2, not 3 + 1
    assert axes.shape == (4,) and _rows(axes) == [2, 2] and max(fig.get_size_inches()) <= PAGE_WIDTH
    fig, axes = panels(7, width=3.4)
    assert _rows(axes) == [3, 3, 1]
    fig, axes = panels(3, width=3.5)
    assert _rows(axes) == [3]
    fig2, grid = panels(2, 3)
    assert grid.shape == (3, 2)
    plt.close("all")


def test_panels_refuses_a_grid_wider_than_four_and_empty_layouts():
    import pytest

    for bad in (dict(ncols=5, nrows=2), dict(ncols=0)):
        with pytest.raises(ValueError, match="panels"):
            panels(**bad)


def test_style_is_seaborn_whitegrid_with_the_colourblind_palette():
    import seaborn as sns

    from seemlab.plots import STYLE

    for key, value in sns.axes_style("whitegrid").items():
        if key not in ("axes.spines.top", "axes.spines.right"):
            assert STYLE[key] == value, key
    colors = STYLE["axes.prop_cycle"].by_key()["color"]
    assert colors[:3] == list(sns.color_palette("colorblind"))[:3]


class _Run:
    """The fields of a ToyRun that crash_fit_panel reads."""

    def __init__(self):
        self.steps = np.arange(50)
        self.u_norm = np.r_[np.linspace(5, 1, 10), 1 / np.linspace(1, 0.02, 40)]  # minimum at step 9
        self.mean_q = -self.u_norm
        self.crash_step, self.crashed = 50, True


def test_crash_fit_panel_plots_the_inverse_power_from_the_minimum_with_the_fit():
    from seemlab.plots import crash_fit_panel

    fig, axes = panels(1)
    run = _Run()
    row = {"window": (20, 40), "predicted": 49.6, "slope": -0.02, "intercept": 1.0}
    crash_fit_panel(axes[0], run, row, power=4 / 3, title="L = 3", mean_q=True)
    lines = axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["$\\|u_t\\|^{-4/3}$", "$1/|\\mathrm{mean}\\,Q|$",
                                                    "fit on the window", "predicted 50", "NaN at 50"]
    assert lines[0].get_xdata()[0] == 9
    np.testing.assert_allclose(lines[0].get_ydata(), run.u_norm[9:] ** (-4 / 3))
    assert axes[0].get_ylabel() == "$\\|u_t\\|^{-4/3}$ and $1/|\\mathrm{mean}\\,Q|$" and axes[0].get_title() == "L = 3"
    assert axes[0].get_ylim()[0] == 0 and axes[0].get_legend() is not None


def test_seem_q_twin_puts_q_on_a_log_right_axis():
    from seemlab.plots import seem_q_twin

    fig, axes = panels(1)
    steps = np.arange(0, 100, 10)
    twin = seem_q_twin(axes[0], steps, np.linspace(0, 0.5, 10), steps, -np.logspace(0, 3, 10), seem_ylim=(-0.1, 1))
    assert twin.get_yscale() == "log" and axes[0].get_yscale() == "linear"
    assert axes[0].get_ylim() == (-0.1, 1) and axes[0].get_ylabel() == "normalized SEEM"
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), np.logspace(0, 3, 10) + 1e-12)
    assert twin.get_ylabel() == "mean |Q(s, a)| (log)"


def test_seed_curves_draws_each_seed_thin_and_the_median_bold():
    from seemlab.plots import seed_curves

    fig, axes = panels(1)
    steps = np.arange(5)
    curves = [(steps, np.full(5, 1.0)), (steps, np.full(5, 3.0)), (steps[:4], np.full(4, 10.0))]
    seed_curves(axes[0], curves, color="C1", label="arm", log=True)
    lines = axes[0].get_lines()
    assert len(lines) == 4 and axes[0].get_yscale() == "log"
    bold = lines[-1]
    assert bold.get_label() == "arm" and bold.get_linewidth() > lines[0].get_linewidth()
    np.testing.assert_array_equal(bold.get_xdata(), steps[:4])  # the steps every seed reached
    np.testing.assert_array_equal(bold.get_ydata(), np.full(4, 3.0))
    fig, axes = panels(1)
    seed_curves(axes[0], curves[:1], color="C0", label="one seed")
    assert [line.get_label() for line in axes[0].get_lines()] == ["one seed"]


def test_power_label_names_the_exponent():
    from seemlab.plots import power_label

    assert power_label(1.0) == "$1/\\|u_t\\|$" and power_label(4 / 3) == "$\\|u_t\\|^{-4/3}$"


def test_seed_curves_interpolates_seeds_logged_at_other_steps():
    from seemlab.plots import seed_curves

    fig, axes = panels(1)
    curves = [(np.array([0.0, 10, 20, 30]), np.array([0.0, 10, 20, 30])),
              (np.array([5.0, 15, 25]), np.array([5.0, 15, 25])),   # the same line, other steps
              (np.array([0.0, 30]), np.array([3.0, 3.0]))]
    seed_curves(axes[0], curves, color="C0")
    bold = axes[0].get_lines()[-1]
    np.testing.assert_array_equal(bold.get_xdata(), [0, 10, 20])  # up to 25, the last step all reached
    np.testing.assert_array_equal(bold.get_ydata(), [3, 10, 20])    # median of (0, 5, 3), (10, 10, 3), ...
