"""The classroom explorer (seemlab.toy.explore): the slider callback reruns the toy and redraws."""

import numpy as np
import pytest

from seemlab.toy import explore

SMALL = dict(seed=0, steps=120, seem_every=40)


def _lines(fig):
    return [np.asarray(line.get_ydata(), dtype=float) for ax in fig.axes for line in ax.get_lines()]


def test_update_reruns_the_toy_and_redraws_the_same_figure():
    ex = explore.Explorer(**SMALL)
    first = ex.update(gamma=0.99, width=16, lr=0.01, layernorm=False)
    fig, before = ex.fig, _lines(ex.fig)
    assert len(fig.axes) == 3 and first.config.gamma == 0.99 and first.config.width == 16
    assert "gamma=0.99, width=16" in ex.text
    second = ex.update(gamma=0.9, width=32, lr=0.05, layernorm=True)
    assert ex.fig is fig and len(fig.axes) == 3 and ex.run is second  # redrawn in place, no new axes
    assert second.config.layernorm and second.config.lr == 0.05 and second.steps.shape == first.steps.shape
    assert not np.allclose(first.u_norm, second.u_norm)
    after = _lines(fig)
    assert len(after) == len(before) and any(not np.allclose(a, b, equal_nan=True) for a, b in zip(before, after))
    assert "gamma=0.9, width=32, lr=0.05, layernorm=True" in ex.text


def test_widget_slider_change_calls_the_callback():
    w = pytest.importorskip("ipywidgets")
    ex = explore.Explorer(**SMALL)
    box = explore.widget(ex, width=16)
    assert ex.run is not None and ex.run.config.gamma == 0.99  # drawn once on creation
    sliders = {c.description: c for row in box.children[:2] for c in row.children}
    sliders["γ (discount)"].value = 0.9
    assert ex.run.config.gamma == 0.9 and ex.run.config.width == 16
    sliders["LayerNorm"].value = True
    assert ex.run.config.layernorm and isinstance(box.children[2], w.Output)


def test_draw_without_a_figure_makes_a_pyplot_one():
    import matplotlib.pyplot as plt

    run = explore.Explorer(**SMALL).update(gamma=0.99, width=16, lr=0.01, layernorm=False)
    fig = explore.draw(run)
    assert fig in map(plt.figure, plt.get_fignums()) and len(fig.axes) == 3
    plt.close(fig)
