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


# ---------------------------------------------------------------- the book's precomputed explorer
TINY_GRID = {"gamma": (0.9, 0.99), "width": (8,), "lr": (0.01, 0.1), "layernorm": (False, True)}


def test_grid_configs_follow_the_product_order_of_the_axes():
    cfgs = explore.grid_configs(TINY_GRID, seed=3, steps=30, seem_every=10)
    assert len(cfgs) == 8 and len(explore.grid_configs()) == 36
    assert [(c.gamma, c.lr, c.layernorm) for c in cfgs[:3]] == [(0.9, 0.01, False), (0.9, 0.01, True), (0.9, 0.1, False)]
    assert all(c.seed == 3 and c.steps == 30 and c.seem_every == 10 and c.log_pair for c in cfgs)


def test_grid_configs_refuse_a_grid_without_the_four_axes():
    with pytest.raises(ValueError, match="gamma, width, lr, layernorm"):
        explore.grid_configs({"gamma": (0.9,), "width": (8,), "lr": (0.01,)})


def test_precompute_keeps_each_runs_curves_in_grid_order_and_caches_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEMLAB_CACHE_DIR", str(tmp_path))
    data = explore.precompute(TINY_GRID, steps=30, seem_every=10)
    assert data["axes"] == {k: list(v) for k, v in TINY_GRID.items()} and data["steps"] == 30
    cfgs = explore.grid_configs(TINY_GRID, steps=30, seem_every=10)
    alone = explore.train(cfgs[5])  # the grid's batched run equals the same run trained alone
    assert data["runs"][5] == explore.curves(alone)
    assert data["runs"][5]["seem_t"] == [0, 10, 20]
    assert list((tmp_path / "explore").glob("*.json")) == [tmp_path / "explore" / f"{explore.grid_key(cfgs)}.json"]

    class Trained(Exception):
        pass

    def no_training(cfgs):
        raise Trained

    monkeypatch.setattr(explore, "train_many", no_training)
    assert explore.precompute(TINY_GRID, steps=30, seem_every=10) == data  # read back, nothing trained
    with pytest.raises(Trained):  # another grid is another key
        explore.precompute(TINY_GRID, steps=31, seem_every=10)


def test_curves_thins_the_td_error_and_keeps_the_last_step():
    run = explore.train(explore.code_config(width=8, steps=300, seem_every=100, log_pair=True))
    c = explore.curves(run, max_points=50)
    assert len(c["t"]) <= 51 and c["t"][0] == 0 and c["t"][-1] == int(run.steps[-1])
    assert len(c["td"]) == len(c["t"]) and len(c["seem"]) == len(c["seem_t"]) == len(c["ntk_next"]) == 3
    np.testing.assert_allclose(c["ntk_next"], 0.99 * np.abs(run.ntk_next), rtol=1e-3)
    assert c["crash"] is None


def test_curves_write_non_finite_values_as_null():
    run = explore.train(explore.code_config(width=8, steps=400, lr=0.3, seem_every=50, log_pair=True))
    assert run.crashed  # a large step size crashes the toy at gamma 0.99
    c = explore.curves(run)
    assert c["crash"] == run.crash_step and all(v is None or np.isfinite(v) for v in c["td"])


def test_explorer_html_embeds_the_data_as_json_that_cannot_end_the_script():
    import json
    import re

    data = {"axes": TINY_GRID, "steps": 30, "runs": [{"note": "</script><b>"}]}
    page = explore.explorer_html(data)
    assert page.startswith('<div class="seemlab-explorer" id="toy-explorer"') and page.count("</script>") == 1
    embedded = re.search(r'<script type="application/json" class="seemlab-explorer-data">(.*?)</script>', page).group(1)
    assert json.loads(embedded)["runs"][0]["note"] == "</script><b>"
