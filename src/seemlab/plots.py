"""One figure style and the shared panels of every notebook, so pages look alike and stay readable.

:data:`STYLE` is seaborn's ``whitegrid`` theme in its ``notebook`` context (scaled down for
panels about 3 inches wide) with the colour-blind palette; :func:`use_style` applies it.
:func:`panels` lays out at most :data:`MAX_COLS` panels a row and no row wider than the page,
wrapping more into a grid. The
panels that several pages draw live here, so those pages draw them alike:

- :func:`crash_fit_panel`: the toy's inverse TD error with the crash-step fit (Figs 2 and 10);
- :func:`seem_q_twin`: normalized SEEM on the left axis, |Q| (log) on a twin right axis;
- :func:`seed_curves`: one thin line per seed and their median, bold, for one arm.

Steps are on the x axes; curves are 1-D arrays over them (shapes in each docstring).
"""

from __future__ import annotations

import math
from fractions import Fraction

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

MAX_COLS = 4
"""At most this many panels a row; :func:`panels` wraps more into rows."""
PAGE_WIDTH = 10.5
"""Inches: the widest figure the book shows at a readable scale. The page column is about 800 px,
so a figure this wide is drawn at about 70 % and its 9.6 pt labels stay about 10 px tall."""


def _style() -> dict:
    """seaborn's whitegrid theme (notebook context, fonts scaled to 0.8) as one rc dict."""
    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
    rc.update({
        "axes.prop_cycle": mpl.cycler(color=sns.color_palette("colorblind")),
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "figure.figsize": (6.4, 4.0),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "grid.alpha": 0.5,
        "legend.frameon": False,
        "legend.fontsize": 7,
    })
    return rc


STYLE = _style()
"""The house style as matplotlib rc settings (``mpl.rc_context(STYLE)`` applies it locally)."""


def use_style() -> None:
    """Apply the house style to matplotlib's global settings."""
    mpl.rcParams.update(STYLE)


def panels(ncols: int, nrows: int = 1, *, width: float = 3.4, height: float = 3.0, **kwargs):
    """``plt.subplots`` sized per panel (``width`` × ``height`` inches); returns ``(fig, axes)``
    with axes always an array.

    One row of ``ncols`` panels gives a flat array of ``ncols`` axes, in reading order. A row
    wider than :data:`PAGE_WIDTH` or longer than :data:`MAX_COLS` panels wraps into a grid with
    rows as even as possible (4 panels: 2 × 2; 7 panels: 4 + 3 or 3 + 3 + 1), the unused slots
    removed. ``nrows > 1`` gives the ``(nrows, ncols)`` array, as ``plt.subplots`` does."""
    if ncols < 1 or nrows < 1:
        raise ValueError(f"panels needs ncols >= 1 and nrows >= 1, got ncols={ncols}, nrows={nrows}")
    if nrows > 1 and ncols > MAX_COLS:
        raise ValueError(f"at most {MAX_COLS} panels a row; got a {nrows} x {ncols} grid")
    use_style()
    count, wrap = ncols, nrows == 1 and ncols > row_length(width)
    if wrap:
        nrows = math.ceil(count / row_length(width))
        ncols = math.ceil(count / nrows)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, constrained_layout=True, **kwargs
    )
    if nrows > 1 and not wrap:
        return fig, axes
    flat = axes.ravel()
    for ax in flat[count:]:
        fig.delaxes(ax)
    return fig, flat[:count]


def row_length(width: float) -> int:
    """Panels of ``width`` inches that fit one row: at most :data:`MAX_COLS`, within :data:`PAGE_WIDTH`."""
    return max(1, min(MAX_COLS, int(PAGE_WIDTH // width)))


def crash_fit(ax, row: dict, crash_step: int | None) -> None:
    """Overlay the crash-step fit of :func:`seemlab.theory.crash_summary` on ``ax``: the fitted
    line from its window to the predicted crash, the window, the prediction and the NaN step."""
    if row["window"] is not None:
        line_t = np.arange(row["window"][0], int(np.ceil(row["predicted"])) + 1)
        ax.plot(line_t, row["slope"] * line_t + row["intercept"], "g:", label="fit on the window")
        ax.axvspan(*row["window"], color="g", alpha=0.15)
        ax.axvline(row["predicted"], color="g", ls="--", label=f"predicted {row['predicted']:.0f}")
    if crash_step is not None:
        ax.axvline(crash_step, color="r", label=f"NaN at {crash_step}")


def power_label(power: float) -> str:
    """TeX for ``‖u_t‖^{-power}``: ``$1/\\|u_t\\|$`` for 1, else e.g. ``$\\|u_t\\|^{-4/3}$``."""
    if power == 1:
        return "$1/\\|u_t\\|$"
    return f"$\\|u_t\\|^{{-{Fraction(power).limit_denominator(12)}}}$"


def crash_fit_panel(ax, run, row: dict, *, power: float = 1.0, title: str | None = None,
                    mean_q: bool = False) -> None:
    """The toy's crash panel (Figs 2 and 10): ``‖u_t‖^{-power}`` from its minimum on, which falls
    linearly to 0 at the crash, with :func:`crash_fit`'s fit, window, prediction and NaN step.

    ``run``: a :class:`seemlab.toy.nav.ToyRun` (``steps, u_norm, mean_q: (T,)``); ``row``: its
    :func:`seemlab.theory.crash_summary` row. ``mean_q`` adds ``1/|mean Q|`` for comparison."""
    t0 = int(np.nanargmin(run.u_norm))
    steps = run.steps[t0:]
    ax.plot(steps, run.u_norm[t0:] ** (-power), label=power_label(power))
    inverse_q = "$1/|\\mathrm{mean}\\,Q|$"
    if mean_q:
        ax.plot(steps, 1 / np.abs(run.mean_q[t0:]), alpha=0.7, label=inverse_q)
    crash_fit(ax, row, run.crash_step if run.crashed else None)
    ax.set(xlabel="SGD step $t$", ylabel=power_label(power) + (f" and {inverse_q}" if mean_q else ""), ylim=(0, None))
    if title:
        ax.set_title(title)
    ax.legend()


SEEM_COLOR, Q_COLOR = "C3", "C0"


def seem_q_twin(ax, steps: np.ndarray, seem: np.ndarray, q_steps: np.ndarray, q: np.ndarray, *,
                q_label: str = "mean |Q(s, a)| (log)", seem_label: str = "normalized SEEM",
                seem_ylim: tuple[float, float] | None = None):
    """SEEM and Q on one panel: ``seem: (K,)`` over ``steps: (K,)`` on the left axis, ``|q|: (T,)``
    over ``q_steps: (T,)`` on a twin right axis (log scale), each axis labelled in its line's
    colour. Returns the twin axis."""
    ax.plot(steps, seem, color=SEEM_COLOR)
    ax.set_ylabel(seem_label, color=SEEM_COLOR)
    ax.tick_params(axis="y", colors=SEEM_COLOR)
    if seem_ylim is not None:
        ax.set_ylim(*seem_ylim)
    twin = ax.twinx()
    twin.semilogy(q_steps, np.abs(q) + 1e-12, color=Q_COLOR)
    twin.set_ylabel(q_label, color=Q_COLOR)
    twin.tick_params(axis="y", colors=Q_COLOR)
    twin.yaxis.set_major_locator(mpl.ticker.LogLocator(numticks=5))  # a few decades labelled, not every one
    twin.yaxis.set_minor_locator(mpl.ticker.NullLocator())
    twin.grid(False)  # one grid (the left axis's) is enough
    twin.spines["right"].set_visible(True)
    return twin


def seed_curves(ax, curves: list[tuple[np.ndarray, np.ndarray]], *, color: str, label: str | None = None,
                log: bool = False, ls: str = "-") -> None:
    """One arm's curves: each seed's ``(steps: (T_i,), values: (T_i,))`` as a thin line and, when
    there are several, their median over seeds as a bold line. The median is taken on the first
    seed's steps up to the last step every seed reached (a diverged seed may stop early), each
    seed interpolated there when its steps differ (e.g. episode ends). ``log`` puts the y axis on
    a log scale; ``label`` goes on the bold line (the only line with one seed)."""
    if not curves:
        raise ValueError("seed_curves needs at least one (steps, values) curve")
    draw = ax.semilogy if log else ax.plot
    if len(curves) == 1:
        draw(*curves[0], color=color, ls=ls, label=label)
        return
    for steps, values in curves:
        draw(steps, values, color=color, ls=ls, lw=0.8, alpha=0.35)
    first = np.asarray(curves[0][0], dtype=float)
    grid = first[first <= min(np.max(s) for s, _ in curves)]
    median = np.nanmedian(np.stack([_on(grid, np.asarray(s, dtype=float), np.asarray(v, dtype=float))
                                    for s, v in curves]), axis=0)
    draw(grid, median, color=color, ls=ls, lw=2.0, label=label)


def _on(grid: np.ndarray, steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` over ``steps`` at the points of ``grid``: as they are when the steps match,
    else linearly interpolated (NaN where a neighbour is not finite)."""
    if steps.shape[0] >= grid.shape[0] and np.array_equal(steps[:grid.shape[0]], grid):
        return values[:grid.shape[0]]
    return np.interp(grid, steps, values)
