"""One figure style for every notebook, so pages look alike and figures stay readable."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.figsize": (6.4, 4.0),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "legend.frameon": False,
}


def use_style() -> None:
    """Apply the house style to matplotlib's global settings."""
    mpl.rcParams.update(STYLE)


def panels(ncols: int, nrows: int = 1, *, width: float = 3.4, height: float = 3.0, **kwargs):
    """``plt.subplots`` sized per panel; returns ``(fig, axes)`` with axes always an array."""
    use_style()
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, constrained_layout=True, **kwargs
    )
    return fig, axes.ravel() if nrows == 1 else axes


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
