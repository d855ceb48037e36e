"""Beyond the paper: SEEM as an early warning of Q divergence, and a guard that reacts to it.

These are seemlab's additions, not the paper's results.

**The alarm** (a pure function of a diagnostics log sequence, the same online and offline). With
``steps, seem_norm: (n,)`` the logs so far (normalized SEEM = SEEM/‖A‖_F, :mod:`seemlab.diagnostics`),
the alarm fires at log i when the last ``persist`` logs up to i all have ``seem_norm > tau``: the
normalized SEEM crossed the threshold and stayed above it (:func:`seemlab.theory.alarm_step` gives
the onset, the first log of that streak). It then predicts *when* Q diverges from Theorem 4's
growth law fitted on the logs from the onset to i (the window seen so far, at least ``persist``
logs): with Adam, after t0 the critic's norm grows linearly and |Q| as a power of it,

    ‖θ_t‖ ≈ a·t + b,        log |Q_t| ≈ c·log ‖θ_t‖ + d          (Theorem 4: c ≈ L),

so the predicted divergence step is where the fitted |Q| reaches the run's divergence threshold
Q_max (:func:`seemlab.diagnostics.divergence_threshold`):

    t̂ = (exp((log Q_max − d)/c) − b) / a        (NaN unless a > 0 and c > 0).

The line fits are :func:`seemlab.theory.fit_line`. :func:`first_alarm` scans a finished log for
the first log at which :func:`alarm_now` holds: the alarm an online callback would have raised.

**The guard** (:class:`GuardCallback`) wraps a :class:`seemlab.diagnostics.DiagnosticsCallback`:
after each diagnostics log it evaluates :func:`alarm_now` on each seed's records, and when the
alarm fires for seed s it reacts on seed s only (a trainer batches seeds as ensemble members;
seed s's C critics are members ``s·C … s·C + C − 1`` of ``trainer.critic``, and a reaction touches
only their slices of :attr:`seemlab.nets.EnsembleMLP.stacked`). A new alarm needs a new onset
(SEEM fell to ≤ tau and rose again); each alarm triggers exactly one reaction, at most
``max_reactions`` per seed. Reactions (:data:`REACTIONS`), none of them LayerNorm nor a retuned
setting of the run:

- ``"lr"``: seed s's critic learning rate times ``lr_scale`` from then on, per member: after each
  update the step of those members is shrunk, θ ← θ_prev + lr_scale·(θ − θ_prev). The critic then
  follows Adam (or SGD) at lr·lr_scale, whose step is linear in lr with moments that do not
  depend on it; within the same update the actor (and a target's EMA step, a τ·(1 − lr_scale)
  difference) saw the unshrunk critic, so the run is close to, not bit-equal to, a smaller lr;
- ``"reset_last"``: re-draw seed s's critics' output layer (PyTorch's default Linear init from a
  generator seeded by the run seed and the alarm count), zero its Adam moments, copy it into the
  target critic.

Supported trainers: those with ``critic`` (an :class:`~seemlab.nets.EnsembleMLP`) and ``C``
(critics per seed), and for ``"reset_last"`` a ``critic_opt`` with Adam state and optionally
``critic_target``: the TD3 family (:class:`seemlab.rl.td3.TD3`: TD3, TD3+BC, DDPG). Others raise
``ValueError``. A run whose SEEM stays ≤ tau is untouched (bit-identical to the unguarded run).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from seemlab.rl.base import member_seed
from seemlab.theory import alarm_step, fit_line

REACTIONS = ("lr", "reset_last")
RESET_ROLE = 20
"""member_seed role of the output-layer re-draw (td3.py uses roles 0–3, 7, 8)."""


# ============================================================================ configs
@dataclass(frozen=True)
class AlarmRule:
    """The early-warning rule (pre-registered on pilot seeds ≥ 1000, see the notebook)."""

    tau: float = 0.0
    """Threshold on the normalized SEEM."""
    persist: int = 3
    """Consecutive logs above tau before the alarm fires (≥ 3: the growth fit needs 3 points)."""

    def __post_init__(self):
        if not (isinstance(self.persist, int) and self.persist >= 3):
            raise ValueError(f"AlarmRule.persist must be an integer >= 3, got {self.persist!r}")
        if not (isinstance(self.tau, (int, float)) and -1.0 <= self.tau < 1.0):
            raise ValueError(f"AlarmRule.tau must be a number in [-1, 1), got {self.tau!r}")


@dataclass(frozen=True)
class GuardConfig:
    """What the guard does when the alarm fires (a field of :class:`seemlab.runs.RunConfig`)."""

    rule: AlarmRule = field(default_factory=AlarmRule)
    reaction: str = "lr"
    """One of :data:`REACTIONS`."""
    lr_scale: float = 0.1
    """``"lr"``: factor on the critic learning rate per alarm."""
    max_reactions: int = 3
    """Alarms (each with one reaction) per seed at most."""

    def __post_init__(self):
        if isinstance(self.rule, dict):  # from a stored config
            object.__setattr__(self, "rule", AlarmRule(**self.rule))
        if self.reaction not in REACTIONS:
            raise ValueError(f"GuardConfig.reaction must be one of {', '.join(REACTIONS)}, got {self.reaction!r}")
        if not 0 < self.lr_scale <= 1:
            raise ValueError(f"GuardConfig.lr_scale must be in (0, 1], got {self.lr_scale!r}")
        if not (isinstance(self.max_reactions, int) and self.max_reactions >= 1):
            raise ValueError(f"GuardConfig.max_reactions must be an integer >= 1, got {self.max_reactions!r}")

    def to_dict(self) -> dict:
        return asdict(self)


# ============================================================================ the alarm
@dataclass(frozen=True)
class Alarm:
    """An alarm: the log ``step`` it fired at, the ``onset`` of the SEEM streak, the predicted
    divergence step (NaN when the fits predict none) and the two fits' slopes."""

    step: float
    onset: float
    predicted: float
    norm_slope: float
    q_vs_norm: float


def predict_divergence(steps, q_abs, param_norm, threshold: float) -> tuple[float, float, float]:
    """Theorem 4's t̂ (module docstring) from ``steps, q_abs, param_norm: (n,)``, n ≥ 2, finite
    and positive; returns ``(t̂, a, c)``."""
    norm_fit = fit_line(steps, param_norm)
    q_fit = fit_line(np.log(param_norm), np.log(np.maximum(q_abs, 1e-300)))
    a, b, c, d = norm_fit.slope, norm_fit.intercept, q_fit.slope, q_fit.intercept
    if not (a > 0 and c > 0 and math.isfinite(threshold)):
        return math.nan, a, c
    target_norm = math.exp(min((math.log(threshold) - d) / c, 700.0))
    return (target_norm - b) / a, a, c


def alarm_now(logs: dict[str, np.ndarray], rule: AlarmRule, threshold: float,
              after_onset: float = -math.inf) -> Alarm | None:
    """The alarm raised at the last log of ``logs`` (``"step"``, ``"seem_norm"``, ``"q_abs"``,
    ``"param_norm"``: ``(n,)`` each, the logs so far), or None. ``after_onset``: an alarm needs an
    onset later than this (the previous alarm's), i.e. a new crossing."""
    steps = np.asarray(logs["step"], dtype=np.float64)
    seem = np.asarray(logs["seem_norm"], dtype=np.float64)
    if steps.size < rule.persist or not np.all(np.isfinite(seem[-rule.persist:])):
        return None
    onset = alarm_step(steps, seem, rule.tau)
    if onset is None or onset <= after_onset:
        return None
    window = steps >= onset
    if window.sum() < rule.persist:
        return None
    q, norm = (np.asarray(logs[k], dtype=np.float64)[window] for k in ("q_abs", "param_norm"))
    predicted, a, c = predict_divergence(steps[window], q, norm, threshold)
    return Alarm(float(steps[-1]), float(onset), float(predicted), float(a), float(c))


def first_alarm(logs: dict[str, np.ndarray], rule: AlarmRule, threshold: float) -> Alarm | None:
    """The first alarm an online guard would raise on the finished ``logs`` (scans prefixes)."""
    n = len(logs["step"])
    keys = ("step", "seem_norm", "q_abs", "param_norm")
    for i in range(rule.persist, n + 1):
        alarm = alarm_now({k: np.asarray(logs[k])[:i] for k in keys}, rule, threshold)
        if alarm is not None:
            return alarm
    return None


@dataclass(frozen=True)
class AlarmOutcome:
    """The alarm on one finished run: ``kind`` is "hit" (fired before the divergence log),
    "miss" (diverged with no alarm before it), "false alarm" (fired, never diverged) or "quiet"
    (neither); ``lead`` = diverged − alarm step; ``error`` = predicted − diverged step."""

    kind: str
    alarm: Alarm | None
    diverged: float | None
    lead: float
    error: float


def evaluate(logs: dict[str, np.ndarray], threshold: float, diverged_step, rule: AlarmRule) -> AlarmOutcome:
    """The :class:`AlarmOutcome` of ``rule`` on a finished run's logs."""
    alarm = first_alarm(logs, rule, threshold)
    div = None if diverged_step is None else float(diverged_step)
    if div is None:
        return AlarmOutcome("quiet" if alarm is None else "false alarm", alarm, None, math.nan, math.nan)
    if alarm is None or alarm.step >= div:
        return AlarmOutcome("miss", alarm, div, math.nan, math.nan)
    return AlarmOutcome("hit", alarm, div, div - alarm.step, alarm.predicted - div)


def result_logs(result) -> tuple[dict[str, np.ndarray], float, float | None] | None:
    """``(logs, threshold, diverged_step)`` of a :class:`seemlab.runs.RunResult`; None without SEEM logs."""
    if "seem_norm" not in result.logs:
        return None
    return result.logs, float(result.meta["threshold"]), result.meta.get("diverged_step")


def toy_logs(run) -> tuple[dict[str, np.ndarray], float, float | None]:
    """The same for a :class:`seemlab.toy.ToyRun`: its divergence is ‖u‖ > ``blowup``, so ‖u‖
    plays |Q| (both grow as the same power of ‖θ‖), read at the SEEM logs."""
    idx = np.searchsorted(run.steps, run.seem_steps).clip(0, len(run.steps) - 1)
    logs = {"step": np.asarray(run.seem_steps, float), "seem_norm": np.asarray(run.seem_norm, float),
            "q_abs": np.asarray(run.u_norm, float)[idx], "param_norm": np.asarray(run.param_norm, float)[idx]}
    return logs, float(run.config.blowup), run.diverged_step


def summarize(outcomes: list[AlarmOutcome]) -> dict:
    """Counts and medians over runs: hits, misses, false alarms, quiet runs, the lead times and
    the absolute and relative (÷ divergence step) errors of the predicted divergence step."""
    kinds = [o.kind for o in outcomes]
    hits = [o for o in outcomes if o.kind == "hit"]
    err = np.array([o.error for o in hits], float)
    rel = np.array([o.error / o.diverged for o in hits], float)
    med = lambda v: float(np.nanmedian(v)) if np.isfinite(v).any() else math.nan  # noqa: E731
    return {"runs": len(outcomes), "diverged": sum(o.diverged is not None for o in outcomes),
            "hits": kinds.count("hit"), "misses": kinds.count("miss"),
            "false_alarms": kinds.count("false alarm"), "quiet": kinds.count("quiet"),
            "lead_min": min((o.lead for o in hits), default=math.nan),
            "lead_median": med(np.array([o.lead for o in hits], float)),
            "abs_error_median": med(np.abs(err)), "rel_error_median": med(np.abs(rel)),
            "predicted_finite": int(np.isfinite(err).sum())}


# ============================================================================ the guard
class GuardCallback:
    """A :class:`~seemlab.diagnostics.DiagnosticsCallback` with the guard on top (see the module
    docstring): ``callback(step, trainer, metrics) -> stop`` of :func:`seemlab.rl.base.train`.

    Order per step: shrink the update just taken for seeds under ``"lr"``; let the diagnostics
    log; evaluate the alarm on each seed whose log is at this step; react.
    """

    def __init__(self, cfg: GuardConfig, diagnostics_callback):
        self.cfg, self.inner = cfg, diagnostics_callback
        S = len(diagnostics_callback.diagnostics)
        self.events: list[list[dict]] = [[] for _ in range(S)]
        self.lr_factor = [1.0] * S
        self.prev: list[torch.Tensor] | None = None  # stacked critic params after the last step (for "lr")

    def wants_info(self, step: int) -> bool:
        return self.inner.wants_info(step)

    def __call__(self, step: int, trainer, metrics: dict) -> bool:
        if any(f != 1.0 for f in self.lr_factor):
            self._shrink_updates(trainer)
        stop = self.inner(step, trainer, metrics)
        for s, diag in enumerate(self.inner.diagnostics):
            if diag.records and diag.records[-1]["step"] == step and len(self.events[s]) < self.cfg.max_reactions:
                self._check(s, diag, trainer)
        return stop

    def _check(self, s: int, diag, trainer) -> None:
        keys = ("step", "seem_norm", "q_abs", "param_norm")
        if "seem_norm" not in diag.records[-1]:
            return
        logs = {k: np.array([r.get(k, np.nan) for r in diag.records]) for k in keys}
        last = self.events[s][-1]["onset"] if self.events[s] else -math.inf
        alarm = alarm_now(logs, self.cfg.rule, diag.threshold, after_onset=last)
        if alarm is not None:
            self.react(s, trainer)
            self.events[s].append({**asdict(alarm), "reaction": self.cfg.reaction, "trainer_step": int(trainer.step)})

    # ----------------------------------------------------------------- reactions
    def react(self, s: int, trainer) -> None:
        """Apply the configured reaction to seed s (once)."""
        _check_trainer(trainer, self.cfg.reaction)
        if self.cfg.reaction == "lr":
            self.lr_factor[s] *= self.cfg.lr_scale
            self.prev = [p.detach().clone() for p in trainer.critic.stacked]
        else:
            reset_output_layer(trainer, s, member_seed(trainer.seeds[s], RESET_ROLE + len(self.events[s])))
            if self.prev is not None:
                self.prev = [p.detach().clone() for p in trainer.critic.stacked]

    @torch.no_grad()
    def _shrink_updates(self, trainer) -> None:
        C = trainer.C
        members = [s * C + c for s, f in enumerate(self.lr_factor) if f != 1.0 for c in range(C)]
        idx = torch.tensor(members, device=trainer.critic.stacked[0].device)
        factor = torch.tensor([self.lr_factor[k // C] for k in members], dtype=trainer.critic.stacked[0].dtype,
                              device=idx.device)
        for p, old in zip(trainer.critic.stacked, self.prev):  # only the reacted members' slices
            f = factor.view(-1, *([1] * (p.ndim - 1)))
            new = old[idx] + f * (p[idx] - old[idx])
            p[idx] = new
            old[idx] = new

    # ----------------------------------------------------------------- results and resume
    def member_events(self, s: int) -> list[dict]:
        """Seed s's alarms: step, onset, predicted, the fits' slopes, reaction, trainer_step."""
        return [dict(e) for e in self.events[s]]

    def state_dict(self) -> dict:
        return {"events": [[dict(e) for e in ev] for ev in self.events], "lr_factor": list(self.lr_factor),
                "prev": None if self.prev is None else [p.clone() for p in self.prev]}

    def load_state_dict(self, state: dict) -> None:
        self.events = [[dict(e) for e in ev] for ev in state["events"]]
        self.lr_factor = [float(f) for f in state["lr_factor"]]
        self.prev = None if state["prev"] is None else [torch.as_tensor(p).clone() for p in state["prev"]]


def _check_trainer(trainer, reaction: str) -> None:
    from seemlab.nets import EnsembleMLP

    if not (isinstance(getattr(trainer, "critic", None), EnsembleMLP) and isinstance(getattr(trainer, "C", None), int)):
        raise ValueError(f"the guard's {reaction!r} reaction needs a trainer with `critic` (EnsembleMLP) and `C` "
                         f"(the TD3 family, seemlab.rl.td3.TD3); got {type(trainer).__name__}")
    if reaction == "reset_last" and not hasattr(trainer, "critic_opt"):
        raise ValueError(f"'reset_last' needs the trainer's `critic_opt`; {type(trainer).__name__} has none")


@torch.no_grad()
def reset_output_layer(trainer, s: int, seed: int) -> None:
    """Re-draw seed s's critics' output layer (weights and bias ~ U(±1/√fan_in), PyTorch's Linear
    default), zero their Adam moments and copy them into the target critic (if separate)."""
    net, C = trainer.critic, trainer.C
    gen = torch.Generator().manual_seed(int(seed))
    members = range(s * C, s * C + C)
    out = [i for i, n in enumerate(net.names) if n.startswith("out.")]
    weight = next((i for i in out if net.stacked[i].ndim == 3 and net.stacked[i].shape[1] > 1), None)
    if weight is None:
        raise ValueError(f"reset_last needs a plain Linear output layer; found {[net.names[i] for i in out]}")
    bound = 1.0 / math.sqrt(net.stacked[weight].shape[1])
    state = trainer.critic_opt.state
    target = getattr(trainer, "critic_target", net)
    for i in out:
        p = net.stacked[i]
        for k in members:
            p[k] = (torch.rand(p[k].shape, generator=gen, dtype=torch.float64) * 2 - 1).mul(bound).to(p)
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state.get(p, {}):
                    state[p][key][k].zero_()
            if target is not net:
                target.stacked[i][k].copy_(p[k])


# ============================================================================ the book's comparison
PREREGISTERED = AlarmRule(tau=0.5, persist=5)
"""The alarm rule, fixed on pilot seeds 1000–1002 (R-SEEM Hopper QUICK) before seeds 0–2 ran:
there the normalized SEEM is already > 0 at initialisation and settles near 0.8 from step ~400
while |Q| reaches the divergence threshold at ~2 250 steps, so "crossing zero" is read as crossing
0.5, held for 5 logs (250 steps at the dense cadence)."""

PILOT_GUARD = GuardConfig(rule=PREREGISTERED, reaction="lr", lr_scale=0.1)
"""The reaction the pilot chose (seeds 1000–1002, R-SEEM Hopper QUICK, 5k steps): with the critic
lr ×0.1 at the alarm (steps 550–650) no seed met the divergence criterion (max |Q| 714–981, still
rising at 5k); re-drawing the output layer did not help (all three diverged at the 2 500 log, as
plain did)."""

ARMS = ("plain", "plain+guard", "LN", "LN+guard")


def comparison_configs(group: str, profile: str, seeds, steps: int | None = None,
                       guard_cfg: GuardConfig = PILOT_GUARD) -> dict[tuple[str, int], "object"]:
    """The four :data:`ARMS` of one comparison ``group`` on ``seeds``, keyed ``(arm, seed)``:
    "r_seem" (R-SEEM Hopper), "xpct_1" / "xpct_10" (the TD3+BC X % Hopper proxy at 1 % / 10 %,
    with SEEM logged at the X % cadence so that the guard can see it, in every arm alike). Every
    arm stops at its divergence log (``stop_on="divergence"``)."""
    from seemlab import runs

    def base(seed, **changes):
        if group == "r_seem":
            extra = dict(steps=steps) if steps else {}
            return runs.r_seem("hopper", seed, profile, **extra, **changes)
        if group in ("xpct_1", "xpct_10"):
            agent = runs.xpct_agent(profile, "td3_bc", **changes, **(dict(steps=steps) if steps else {}))
            cfg = runs.xpct_run(runs.dataset_for("hopper", profile), 0.01 if group == "xpct_1" else 0.1, seed,
                                profile, agent)
            return cfg.replace(diagnostics=dataclasses.replace(cfg.diagnostics, seem=True))
        raise ValueError(f"unknown comparison group {group!r}; allowed values: r_seem, xpct_1, xpct_10")

    def stop_at_divergence(cfg):  # a diverged arm has answered: its remaining steps would only cost time
        return cfg.replace(diagnostics=dataclasses.replace(cfg.diagnostics, stop_on="divergence"))

    out = {}
    for s in seeds:
        plain, ln = stop_at_divergence(base(s)), stop_at_divergence(base(s, critic_norm="layer"))
        out.update({("plain", s): plain, ("plain+guard", s): plain.replace(guard=guard_cfg),
                    ("LN", s): ln, ("LN+guard", s): ln.replace(guard=guard_cfg)})
    return out


def comparison_table(results: dict) -> dict[str, dict]:
    """Per arm over seeds (``results[(arm, seed)]``: RunResult): divergence rate, median max |Q|,
    mean final return, mean training seconds per 1000 steps and seed (``seconds``), its overhead
    against the arm without the guard, and the seeds whose run diverged."""
    table = {}
    for arm in ARMS:
        rs = [r for (a, _), r in results.items() if a == arm]
        if not rs:
            continue
        secs = float(np.mean([r.meta["seconds_train_group"] / len(r.meta["group_seeds"]) / max(r.meta["steps_done"], 1)
                              * 1000 for r in rs]))  # per 1000 steps: a diverged arm stops early
        table[arm] = {"diverged": float(np.mean([r.diverged for r in rs])), "max_q": float(np.median([r.max_abs_q for r in rs])),
                      "return": float(np.mean([r.meta["eval"].get("mean_return", np.nan) for r in rs])),
                      "seconds": secs, "alarms": sum(len(r.meta.get("guard_events", [])) for r in rs),
                      "diverged_seeds": [s for (a, s), r in results.items() if a == arm and r.diverged]}
    for arm in ("plain+guard", "LN+guard"):
        if arm in table and arm.split("+")[0] in table:
            table[arm]["overhead"] = table[arm]["seconds"] / table[arm.split("+")[0]]["seconds"] - 1.0
    return table


def cached_outcomes(folder, rule: AlarmRule = PREREGISTERED, max_seed: int = 999) -> list[tuple[str, AlarmOutcome]]:
    """The alarm on every finished unguarded run with SEEM logs in a run cache's ``runs/``
    folder (seeds ≤ ``max_seed``: pilots excluded), labelled by dataset, algorithm, γ, critic norm and seed."""
    from pathlib import Path

    from seemlab import runs

    out = []
    for path in sorted(Path(folder).glob("*.npz")):
        try:
            r = runs.load_result(path)
        except Exception:  # noqa: BLE001 (a bad or foreign file is not a run: skip it)
            continue
        got = result_logs(r)
        if got is None or "guard" in r.config or int(r.config["seed"]) > max_seed or len(got[0]["step"]) < rule.persist:
            continue
        a = r.config.get("agent") or r.config.get("td3")
        label = f"{r.config['dataset'].split(':')[-1]} {a['algorithm']} γ={a['gamma']} {a['critic_norm']} seed {r.config['seed']}"
        out.append((label, evaluate(*got, rule)))
    return out
