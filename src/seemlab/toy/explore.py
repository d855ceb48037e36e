"""The classroom explorer of the toy (``notebooks/explore_self_excitation.ipynb``, ``make explore``).

:func:`draw` plots one toy run in three panels: the TD error, the normalized SEEM and the NTK of
the first data point with its greedy successor against its self-kernel. :class:`Explorer` reruns
the toy for slider values and redraws one figure in place; :func:`widget` wires it to ipywidgets
sliders (γ, width, learning rate, LayerNorm). A quick-profile run takes a few seconds on a CPU.
ipywidgets is needed only by :func:`widget` (the ``explore`` extra) and is imported there.

The book's copy of the page has no kernel, so its explorer is precomputed: :func:`precompute`
trains the toy once on every point of :data:`GRID` (γ × width × learning rate × LayerNorm, 36
short runs, batched by :func:`seemlab.toy.nav.train_many`) and keeps the thinned curves, cached in
the run cache by the hash of the grid's configs. :func:`explorer_html` embeds them in the page as
JSON; ``book/_static/seemlab-explorer.js`` (plain JavaScript and SVG, served with the book) draws
the three panels and redraws them when a slider or the LayerNorm toggle moves. No server, no
network.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import json

import numpy as np
from matplotlib.figure import Figure

from seemlab.plots import STYLE, panels
from seemlab.toy.nav import NavConfig, ToyRun, code_config, train, train_many

WIDTHS = (16, 32, 64, 128, 256)
"""The hidden widths the width slider offers."""
GAMMA_RANGE = (0.8, 0.999)
"""γ slider: from a discount that never crashes to one that crashes soon."""
LR_EXPONENTS = (-3.0, -1.0)
"""Learning-rate slider: 10**-3 to 10**-1, on a log scale."""


def summary(run: ToyRun) -> str:
    """One line: the run's settings, whether and when it crashed, its last SEEM and mean Q."""
    cfg = run.config
    finite = run.mean_q[np.isfinite(run.mean_q)]
    last_q = f"{finite[-1]:.3g}" if finite.size else "nan"
    last_seem = f"{run.seem_norm[-1]:.3f}" if run.seem_norm.size else "n/a"
    outcome = f"crashed (NaN) at step {run.crash_step}" if run.crashed else f"no crash in {cfg.steps} steps"
    return (f"gamma={cfg.gamma}, width={cfg.width}, lr={cfg.lr:.3g}, layernorm={cfg.layernorm}: {outcome}; "
            f"last normalized SEEM {last_seem}; last mean Q {last_q}")


def draw(run: ToyRun, fig: Figure | None = None) -> Figure:
    """Plot ``run`` (logged with ``log_pair=True`` and ``seem_every > 0``) into three panels of
    ``fig``, cleared first; a new pyplot figure when ``fig`` is None. Returns the figure."""
    if fig is None:
        fig, axes = panels(3, width=3.3, height=2.9)
    else:
        fig.clear()
        axes = fig.subplots(1, 3)
    gamma = run.config.gamma
    axes[0].semilogy(run.steps, run.u_norm)
    finite = run.u_norm[np.isfinite(run.u_norm)]
    if finite.size:  # the last steps before NaN would squash the plot
        axes[0].set_ylim(top=2 * min(float(finite.max()), run.config.blowup))
    axes[0].set(xlabel="SGD step $t$", ylabel="TD error $\\|u_t\\|$", title="TD error")
    if run.crashed:
        axes[0].axvline(run.crash_step, color="r", ls="--", label="NaN")
        axes[0].legend(fontsize=7)
    axes[1].plot(run.seem_steps, run.seem_norm, color="tab:red")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set(xlabel="SGD step $t$", ylabel="normalized SEEM", title="SEEM")
    axes[2].semilogy(run.seem_steps, gamma * np.abs(run.ntk_next), label="$\\gamma\\,|k(x^*_0, x_0)|$")
    axes[2].semilogy(run.seem_steps, run.ntk_self, label="$k(x_0, x_0)$")
    axes[2].set(xlabel="SGD step $t$", ylabel="NTK", title="one data point")
    axes[2].legend(fontsize=7)
    return fig


class Explorer:
    """Reruns the toy for slider values and redraws :attr:`fig` in place.

    ``seed``, ``steps`` and ``seem_every`` stay fixed (the profile's); each :meth:`update`
    trains one run, keeps it as :attr:`run` and its :func:`summary` as :attr:`text`."""

    def __init__(self, *, seed: int = 0, steps: int = 1500, seem_every: int = 25):
        import matplotlib as mpl

        self.seed, self.steps, self.seem_every = seed, steps, seem_every
        with mpl.rc_context(STYLE):
            self.fig = Figure(figsize=(3 * 3.3, 2.9), layout="constrained")  # outside pyplot: shown only when asked
        self.run: ToyRun | None = None
        self.text = ""

    def update(self, gamma: float, width: int, lr: float, layernorm: bool) -> ToyRun:
        """Train the toy at these slider values and redraw; returns the new run."""
        import matplotlib as mpl

        cfg = code_config(seed=self.seed, gamma=float(gamma), width=int(width), lr=float(lr),
                          layernorm=bool(layernorm), steps=self.steps, seem_every=self.seem_every, log_pair=True)
        self.run = train(cfg)
        with mpl.rc_context(STYLE):
            draw(self.run, self.fig)
        self.text = summary(self.run)
        return self.run


def widget(explorer: Explorer, *, gamma: float = 0.99, width: int = 64, lr: float = 0.01, layernorm: bool = False):
    """ipywidgets sliders for γ, width, learning rate and LayerNorm over ``explorer``'s figure.

    Each change (on release of a slider) reruns the toy and redraws; returns the widget box to
    display. Needs ipywidgets (``pip install -e ".[explore]"``, or ``make explore``)."""
    try:
        import ipywidgets as w
    except ImportError as err:
        raise ImportError('the live explorer needs ipywidgets: pip install -e ".[explore]" (or make explore)') from err
    from IPython.display import display

    style = dict(continuous_update=False, style={"description_width": "7em"})
    controls = dict(
        gamma=w.FloatSlider(value=gamma, min=GAMMA_RANGE[0], max=GAMMA_RANGE[1], step=0.001, readout_format=".3f",
                            description="γ (discount)", **style),
        width=w.SelectionSlider(options=sorted({*WIDTHS, int(width)}), value=int(width), description="width", **style),
        lr=w.FloatLogSlider(value=lr, base=10, min=LR_EXPONENTS[0], max=LR_EXPONENTS[1], step=0.1,
                            readout_format=".3g", description="learning rate", **style),
        layernorm=w.Checkbox(value=layernorm, description="LayerNorm", indent=False),
    )
    out = w.Output()

    def redraw(**values) -> None:
        explorer.update(**values)
        out.clear_output(wait=True)
        with out:
            print(explorer.text)
            display(explorer.fig)

    for control in controls.values():
        control.observe(lambda _change: redraw(**{k: c.value for k, c in controls.items()}), names="value")
    redraw(**{k: c.value for k, c in controls.items()})
    return w.VBox([w.HBox([controls["gamma"], controls["width"]]), w.HBox([controls["lr"], controls["layernorm"]]),
                   out])


# ============================================================================ the book's offline explorer
GRID = {"gamma": (0.9, 0.95, 0.99), "width": (32, 64), "lr": (0.01, 0.03, 0.1), "layernorm": (False, True)}
"""The precomputed grid: 3 γ × 2 widths × 3 learning rates × LayerNorm off/on = 36 toy runs. At
500 steps, γ = 0.99 crashes for the larger rates (sooner with a larger rate), γ ≤ 0.95 never."""
GRID_STEPS = 500
"""SGD steps of each grid run (it stops earlier at its crash)."""
GRID_SEEM_EVERY = 25
"""SEEM / NTK logging cadence of the grid runs, in steps."""
MAX_POINTS = 125
"""Each TD-error curve is thinned to at most this many points (the page carries them all)."""
EXPLORER_FORMAT = 1
"""Bump when the precomputed data's layout changes: old cache files are then not read."""


def grid_configs(grid: dict = GRID, *, seed: int = 0, steps: int = GRID_STEPS,
                 seem_every: int = GRID_SEEM_EVERY) -> list[NavConfig]:
    """One toy config per grid point, in ``itertools.product`` order of ``grid``'s keys
    (γ, width, lr, layernorm); each logs SEEM and the one-point NTK pair every ``seem_every``."""
    if list(grid) != list(GRID) or not all(grid[k] for k in GRID):
        raise ValueError(f"grid must give non-empty values for exactly {', '.join(GRID)}, in that order; got {list(grid)}")
    return [code_config(seed=seed, gamma=float(g), width=int(w), lr=float(lr), layernorm=bool(ln), steps=steps,
                        seem_every=seem_every, log_pair=True)
            for g, w, lr, ln in itertools.product(*grid.values())]


def _rounded(values: np.ndarray) -> list:
    """4 significant digits, non-finite values as None (JSON null): the page's numbers."""
    return [float(f"{v:.4g}") if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def curves(run: ToyRun, max_points: int = MAX_POINTS) -> dict:
    """The explorer's data for one run: the TD error ``td`` over ``t`` (thinned to at most
    ``max_points``, the last logged step kept), and at each SEEM log ``seem_t``: the normalized
    SEEM ``seem``, ``ntk_next`` = γ |k(x*_0, x_0)| and ``ntk_self`` = k(x_0, x_0); ``crash``: the
    NaN step or None."""
    keep = np.unique(np.r_[np.arange(0, run.steps.size, max(1, -(-run.steps.size // max_points))), run.steps.size - 1])
    keep = keep[keep >= 0]
    gamma = run.config.gamma
    return {"t": run.steps[keep].tolist(), "td": _rounded(run.u_norm[keep]), "seem_t": run.seem_steps.tolist(),
            "seem": _rounded(run.seem_norm), "ntk_next": _rounded(gamma * np.abs(run.ntk_next)),
            "ntk_self": _rounded(run.ntk_self), "crash": run.crash_step}


def grid_key(cfgs: list[NavConfig]) -> str:
    """The cache key of a grid: the hash of its configs (every field) and the data layout."""
    from seemlab.runs.cache import _digest

    return _digest({"format": EXPLORER_FORMAT, "max_points": MAX_POINTS,
                    "configs": [dataclasses.asdict(c) for c in cfgs]})


def precompute(grid: dict = GRID, *, seed: int = 0, steps: int = GRID_STEPS, seem_every: int = GRID_SEEM_EVERY,
               cache: bool = True) -> dict:
    """Train the toy on every point of ``grid`` and return the explorer's data (JSON-ready):
    ``axes`` (the grid), ``steps``, ``seed`` and ``runs``, a list in :func:`grid_configs` order of
    :func:`curves` dicts. With ``cache``, the data is read from and written to
    ``<run cache>/explore/<grid_key>.json``, so a rebuild trains nothing."""
    from seemlab.runs.cache import cache_dir, load_checked, write_checked

    cfgs = grid_configs(grid, seed=seed, steps=steps, seem_every=seem_every)
    path = cache_dir() / "explore" / f"{grid_key(cfgs)}.json"
    if cache and (hit := load_checked(path, json.loads)) is not None:
        return hit
    by_shape: dict[tuple, list[int]] = {}  # train_many batches runs of one width and LayerNorm setting
    for i, c in enumerate(cfgs):
        by_shape.setdefault((c.width, c.layernorm), []).append(i)
    trained: dict[int, ToyRun] = {}
    for idx in by_shape.values():
        trained.update(zip(idx, train_many([cfgs[i] for i in idx])))
    data = {"format": EXPLORER_FORMAT, "axes": {k: list(v) for k, v in grid.items()}, "steps": steps, "seed": seed,
            "runs": [curves(trained[i]) for i in range(len(cfgs))]}
    if cache:  # no lock: two builds computing one grid at once write the same bytes, each atomically
        path.parent.mkdir(parents=True, exist_ok=True)
        write_checked(path, json.dumps(data, separators=(",", ":")).encode())
    return data


def explorer_html(data: dict, *, name: str = "toy-explorer") -> str:
    """The HTML of the offline explorer: a container that ``seemlab-explorer.js`` fills with the
    sliders, the LayerNorm toggle and three SVG panels, with ``data`` (from :func:`precompute`)
    embedded as JSON. Outside the book (no script) it says where the explorer runs."""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")  # no early end of the script
    axes = data["axes"]
    return (f'<div class="seemlab-explorer" id="{html.escape(name)}">'
            f'<script type="application/json" class="seemlab-explorer-data">{payload}</script>'
            f'<p class="seemlab-explorer-fallback">The precomputed explorer ({len(data["runs"])} runs: '
            f'γ in {axes["gamma"]}, width in {axes["width"]}, learning rate in {axes["lr"]}, LayerNorm off and on) '
            "draws here in the built book; in Jupyter, use <code>make explore</code> for live sliders.</p></div>")
