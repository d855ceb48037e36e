"""The classroom explorer of the toy (``notebooks/explore_self_excitation.ipynb``, ``make explore``).

:func:`draw` plots one toy run in three panels: the TD error, the normalized SEEM and the NTK of
the first data point with its greedy successor against its self-kernel. :class:`Explorer` reruns
the toy for slider values and redraws one figure in place; :func:`widget` wires it to ipywidgets
sliders (γ, width, learning rate, LayerNorm). A quick-profile run takes a few seconds on a CPU.
ipywidgets is needed only by :func:`widget` (the ``explore`` extra) and is imported there.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from seemlab.plots import STYLE, panels
from seemlab.toy.nav import ToyRun, code_config, train

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
