"""The paper's run groups (SPEC §0.3) at each profile: R-SEEM, R-GAMMA, R-REG, the X% grids
(R-XPCT, R-DDPG-ABL, R-NORM10), and the totals over a grid's tasks and seeds."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from seemlab import rl
from seemlab.diagnostics import DiagnosticsConfig
from seemlab.profiles import check_profile, pick
from seemlab.rl.base import AgentConfig
from seemlab.rl.td3 import TD3Config, preset
from seemlab.runs import RunConfig, RunResult

DATASETS = {
    "hopper": dict(smoke="local:hopper-random-10k-v0", quick="local:hopper-random-10k-v0",
                   full="minari:mujoco/hopper/medium-v0"),
    "walker2d": dict(smoke="local:walker2d-random-10k-v0", quick="local:walker2d-random-10k-v0",
                     full="minari:mujoco/walker2d/medium-expert-v0"),
    "halfcheetah": dict(smoke="local:halfcheetah-random-10k-v0", quick="local:halfcheetah-random-10k-v0",
                        full="minari:mujoco/halfcheetah/medium-v0"),
    "antmaze": dict(smoke="local:antmaze-umaze-random-10k-v0", quick="local:antmaze-umaze-random-10k-v0",
                    full="minari:D4RL/antmaze/umaze-v1"),
}
"""Per task and profile: QUICK random-policy data (AntMaze: the UMaze random-policy proxy, SPEC
Fig 18); FULL the paper's tasks (SPEC Ambiguity 18)."""

ANTMAZE_FULL = tuple(f"minari:D4RL/antmaze/{name}-v1" for name in
                     ("umaze", "umaze-diverse", "medium-play", "medium-diverse", "large-play", "large-diverse"))
"""R-SEEM-ANT FULL: the six AntMaze tasks (Minari's D4RL re-release of the paper's v0 data)."""


def dataset_for(task: str, profile: str) -> str:
    check_profile(profile)
    if task not in DATASETS:
        raise ValueError(f"unknown task {task!r}; allowed values: {', '.join(DATASETS)}")
    return DATASETS[task][profile]


def seem_td3(profile: str) -> TD3Config:
    """R-SEEM's TD3: no EMA (τ = 1), BC weight 0, α = 2.5, Adam 3e-4, γ 0.99 (SPEC §0.3).

    QUICK: critic width 64, policy and target updates every step, 10k steps. FULL: the authors'
    code, width 256, policy_freq 2, 1M steps. SMOKE: a few hundred steps of tiny networks.
    """
    base = dict(tau=1.0, bc_weight=0.0, alpha=2.5, gamma=0.99)
    return preset("td3_bc", **base,
                  steps=pick(profile, None, smoke=200, quick=10_000, full=1_000_000),
                  critic_width=pick(profile, None, smoke=16, quick=64, full=256),
                  actor_width=pick(profile, None, smoke=32, quick=256, full=256),
                  batch_size=pick(profile, None, smoke=64, quick=256, full=256),
                  policy_freq=pick(profile, None, smoke=1, quick=1, full=2))


def seem_diagnostics(profile: str) -> DiagnosticsConfig:
    """QUICK: M = 256, every 50 steps to 2k then every 500; FULL: M = 2560, every 10k."""
    return DiagnosticsConfig(
        probe_size=pick(profile, None, smoke=32, quick=256, full=2560),
        every=pick(profile, None, smoke=50, quick=500, full=10_000),
        dense_every=pick(profile, None, smoke=25, quick=50, full=2000),
        dense_until=pick(profile, None, smoke=100, quick=2000, full=50_000),
        scale="full" if profile == "full" else "quick",
    )


def r_seem(task: str, seed: int, profile: str, **td3_changes) -> RunConfig:
    """An R-SEEM run (SPEC §0.3) of ``task`` ("hopper", "walker2d", "halfcheetah", "antmaze")."""
    td3 = seem_td3(profile)
    return RunConfig(dataset=dataset_for(task, profile), seed=seed,
                     agent=td3.replace(**td3_changes) if td3_changes else td3,
                     diagnostics=seem_diagnostics(profile),
                     eval_episodes=pick(profile, None, smoke=1, quick=10, full=10))


def r_seem_grid(profile: str, seed: int, n_seeds: int, tasks: Sequence[str]) -> dict[tuple[str, int], RunConfig]:
    """R-SEEM runs keyed ``(task, seed)``: ``n_seeds`` seeds from ``seed`` per task, except
    HalfCheetah, whose runs are the slowest: one seed at QUICK and SMOKE (Figs 16/17)."""
    hc_seeds = pick(profile, None, smoke=1, quick=1, full=n_seeds)
    return {(t, s): r_seem(t, s, profile) for t in tasks
            for s in range(seed, seed + (hc_seeds if t == "halfcheetah" else n_seeds))}


GAMMAS = {"smoke": (0.0, 0.99), "quick": (0.0, 0.5, 0.8, 0.9, 0.95, 0.99),
          "full": (0.99, 0.95, 0.93, 0.929, 0.928, 0.927, 0.926, 0.925, 0.92, 0.0)}


def r_gamma(profile: str, seed: int = 0, task: str | None = None) -> list[RunConfig]:
    """R-GAMMA: R-SEEM over the γ grid (QUICK Hopper, FULL walker2d-medium-expert)."""
    task = task or ("walker2d" if profile == "full" else "hopper")
    return [r_seem(task, seed, profile, gamma=g) for g in GAMMAS[profile]]


REG_ARMS = {
    "none": {},
    "LN": dict(critic_norm="layer"),
    "WN": dict(out_weight_norm=True),
    "BN": dict(critic_norm="batch"),
    "dropout": dict(dropout=0.1),
    "WD": dict(weight_decay=1e-2),
    "BC": dict(bc_weight=1.0),
}
"""Fig 6 arms with SPEC Ambiguity 21's choices (flagged as ours): LN before ReLU on all hidden
layers with affine; WN on the output layer; BN before ReLU in train mode for both passes;
dropout 0.1 active in both passes; AdamW decoupled wd 1e-2; BC = TD3+BC α = 2.5."""


def r_reg(profile: str, seed: int = 0, arms: Sequence[str] | None = None) -> dict[str, RunConfig]:
    """R-REG: the Fig 6 arms on Walker2d (the "none" arm is the R-SEEM Walker2d run)."""
    arms = list(arms or REG_ARMS)
    bad = [a for a in arms if a not in REG_ARMS]
    if bad:
        raise ValueError(f"unknown arms {bad}; allowed values: {', '.join(REG_ARMS)}")
    return {a: r_seem("walker2d", seed, profile, **REG_ARMS[a]) for a in arms}


# ---------------------------------------------------------------------------- X% MuJoCo proxies
MUJOCO_FULL = tuple(f"minari:mujoco/{body}/{level}-v0" for body in ("hopper", "halfcheetah", "walker2d")
                    for level in ("medium", "medium-expert"))
"""FULL tasks of the X% figures available from Minari. The paper's medium-replay datasets exist
only as D4RL files: pass them as ``d4rl:<path>`` specs (SPEC §0.2)."""


XPCT_QUICK_STEPS = {"td3_bc": 25_000, "ddpg": 5_000, "iql": 20_000}
"""QUICK steps per algorithm, chosen on pilot seeds 1000–1002 before seeds 0–2 ran. TD3+BC
(Figs 8/9): at 1 % the plain critic met the divergence criterion at 18–19.25k steps (max |Q| 27–33
at 5k), so 25k; "ddpg" (Fig 12): DDPG w/o EMA met it at 2.5k steps at 10 % and 50 %, so 5k;
IQL: at 1 % the plain critic met it at 13.25k, 14.25k and 15k steps (the LN critic reached max |Q|
1.4–2.0·10³ at 20k, the plain one at 100 % 31–32), so 20k."""


def xpct_agent(profile: str, algorithm: str = "td3_bc", **changes) -> AgentConfig:
    """The X% runs' config of ``algorithm`` (any of :data:`seemlab.rl.MODULES`): the algorithm's
    paper defaults (TD3+BC: EMA τ 0.005, BC, α 2.5); QUICK width 64 and
    :data:`XPCT_QUICK_STEPS` steps, FULL width 256 and 1M steps."""
    quick_steps = XPCT_QUICK_STEPS.get(algorithm, 5_000)
    scale = dict(steps=pick(profile, None, smoke=200, quick=quick_steps, full=1_000_000),
                 critic_width=pick(profile, None, smoke=16, quick=64, full=256),
                 actor_width=pick(profile, None, smoke=16, quick=64, full=256),
                 batch_size=pick(profile, None, smoke=64, quick=256, full=256))
    return rl.preset(algorithm, **{**scale, **changes})


def xpct_diagnostics(profile: str) -> DiagnosticsConfig:
    """Q statistics every 250 steps (QUICK) or 10k (FULL), no SEEM: these figures are about
    whether Q stays bounded, and the Gram matrices would cost more than the training."""
    return DiagnosticsConfig(probe_size=pick(profile, None, smoke=32, quick=256, full=2560),
                             every=pick(profile, None, smoke=50, quick=250, full=10_000), dense_until=0,
                             scale="full" if profile == "full" else "quick", seem=False)


def xpct_run(dataset: str, fraction: float, seed: int, profile: str, agent: AgentConfig) -> RunConfig:
    """One run on X% of ``dataset`` (``fraction`` in (0, 1])."""
    return RunConfig(dataset=dataset, seed=seed, agent=agent, diagnostics=xpct_diagnostics(profile), fraction=fraction,
                     eval_episodes=pick(profile, None, smoke=1, quick=10, full=10))


XPCT_ALGORITHMS = ("td3_bc", "iql", "cql", "diffusion_ql")
"""The four algorithms of Figs 8 and 9."""
ALGORITHM_NAMES = {"td3_bc": "TD3+BC", "iql": "IQL", "cql": "CQL", "diffusion_ql": "Diffusion-QL", "td3": "TD3",
                   "ddpg": "DDPG"}
"""How the book names each algorithm."""


def r_xpct(profile: str, dataset: str, fraction: float, seed: int = 0, algorithm: str = "td3_bc",
           layernorm: bool = False, **changes) -> RunConfig:
    """R-XPCT: one cell of the Fig 8/9 grid, ``algorithm`` on X% of ``dataset`` with a plain or a
    LayerNorm critic (LN before each hidden activation, with affine). The subset depends only on
    the dataset and X, so every algorithm and arm sees the same transitions."""
    if algorithm not in XPCT_ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r} for R-XPCT; allowed values: {', '.join(XPCT_ALGORITHMS)}")
    norm = dict(critic_norm="layer") if layernorm else {}
    return xpct_run(dataset, fraction, seed, profile, xpct_agent(profile, algorithm, **norm, **changes))


def grid_totals(results: dict[tuple, RunResult]) -> dict:
    """Per cell of a run grid keyed ``(cell, dataset, seed)``: ``max_q`` and ``total`` (max |Q| and
    the normalized score, each averaged over seeds and summed over datasets: the paper's totals
    over tasks) and ``diverged`` (every run's divergence step, None where it did not diverge)."""
    by_cell: dict = {}
    for (cell, dataset, _), result in results.items():
        by_cell.setdefault(cell, {}).setdefault(dataset, []).append(result)

    def total(by_dataset, value):
        return float(sum(np.mean([value(r) for r in rs]) for rs in by_dataset.values()))

    return {cell: {"max_q": total(by_d, lambda r: r.max_abs_q),
                   "total": total(by_d, lambda r: r.meta["eval"].get("normalized", np.nan)),
                   "diverged": [r.meta["diverged_step"] for rs in by_d.values() for r in rs]}
            for cell, by_d in by_cell.items()}


DDPG_ARMS = {
    "DDPG w/o EMA": dict(tau=1.0),
    "+EMA": dict(tau=0.005),
    "+EMA+DoubleQ": dict(tau=0.005, double_q=True),
    "+EMA+DoubleQ+LN": dict(tau=0.005, double_q=True, critic_norm="layer"),
}
"""Fig 12's sequence on the "ddpg" preset (SPEC Ambiguity 34: TD3+BC without double-Q, target
smoothing and policy delay, BC kept); each arm adds one ingredient to the previous one."""


def r_ddpg_abl(profile: str, dataset: str, fraction: float, seed: int = 0) -> dict[str, RunConfig]:
    """R-DDPG-ABL: the Fig 12 arms on X% of ``dataset``."""
    return {arm: xpct_run(dataset, fraction, seed, profile, xpct_agent(profile, "ddpg", **ch)) for arm, ch in DDPG_ARMS.items()}


NORM10_ARMS = {"none": {}, "LN": dict(critic_norm="layer"), "BN": dict(critic_norm="batch"),
               "WN": dict(out_weight_norm=True)}
"""Fig 13's TD3+BC critics (the Fig 6 choices: norms before ReLU on all hidden layers with
affine, BN in train mode for both passes, WN on the output layer)."""


def r_norm10(profile: str, dataset: str, seed: int = 0, fraction: float = 0.1) -> dict[str, RunConfig]:
    """R-NORM10: TD3+BC with each critic normalization on 10% of ``dataset``.

    QUICK keeps 5k steps (not the 25k of the Fig 8/9 proxy, so its none/LN arms are not shared with
    it): at 10 % the plain critic's max |Q| was 0.7–1.5·10³ after 20k pilot steps, far below the
    divergence criterion, so no QUICK budget shows the effect. FULL shares the Fig 8/9 runs."""
    steps = pick(profile, None, smoke=200, quick=5_000, full=1_000_000)
    return {arm: xpct_run(dataset, fraction, seed, profile, xpct_agent(profile, **ch).replace(steps=steps))
            for arm, ch in NORM10_ARMS.items()}


# ============================================================================ R-DQL-ANT (Tables 1, 2, 4, 5; Fig 7)
ANTMAZE_TASKS = ("umaze", "umaze-diverse", "medium-play", "medium-diverse", "large-play", "large-diverse")
"""The six AntMaze tasks of Table 1 (Tables 4 and 5: the two large ones)."""
OPER_TASKS = ("medium-play", "medium-diverse", "large-play", "large-diverse")
"""Where the paper's "ours" draws its policy-improvement batches with OPER-R (p_base 0), App. E."""
DQL_ANT_QUICK_DATA = {"antmaze": "local:antmaze-umaze-scripted-50k-v0",
                      "pointmaze": "local:pointmaze-medium-scripted-50k-v0"}
"""QUICK proxies: the locally generated goal-reaching AntMaze-UMaze data (Tables 1, 2, 4, 5) and
the 2-D point maze with sparse reward (Fig 7); see ``seemlab data generate scripted``."""

DQL_ANT_ARMS = {
    "diffql": {},
    "ln": dict(critic_norm="layer"),
    "ln_no_oper": dict(critic_norm="layer"),
    "bn": dict(critic_norm="batch"),
    "wn": dict(critic_norm="weight"),
    "ln0": dict(critic_norm="layer", norm_layers=(0,)),
    "ln01": dict(critic_norm="layer", norm_layers=(0, 1)),
    "ln12": dict(critic_norm="layer", norm_layers=(1, 2)),
    "ln2": dict(critic_norm="layer", norm_layers=(2,)),
    "ln_no_affine": dict(critic_norm="layer", norm_affine=False),
    "bc10": dict(bc_coef=10.0),
}
"""Every arm of Tables 1, 2, 4, 5 and Fig 7 as changes to Diffusion-QL's AntMaze config (BC
coefficient 0.5, 3 × 256 Mish critics): "diffql" is Diffusion-QL without normalization (Table 1's
rerun, Table 4's first column, Fig 7's "BC 0.5"), "ln" is "ours", LN(0,1,2) with affine (Table 1,
Table 4's LN, Table 5's LN(0,1,2), Fig 7's "BC 0.5 + LN"); "ln_no_oper" is "ours" without OPER-R
(Table 2); BN/WN (Table 4: WN on every hidden layer, as its LN); the LN placements and LN without
affine of Table 5; "bc10" is Fig 7's strong constraint, without LN."""
DQL_ANT_ARM_NAMES = {"diffql": "Diffusion-QL", "ln": "+LN(0,1,2) (ours)", "ln_no_oper": "ours w/o OPER-R",
                     "bn": "+BN", "wn": "+WN", "ln0": "LN(0)", "ln01": "LN(0,1)", "ln12": "LN(1,2)", "ln2": "LN(2)",
                     "ln_no_affine": "LN no affine", "bc10": "BC 10"}


def dql_ant_dataset(task: str, profile: str, source: str | None = None) -> str:
    """The data of an R-DQL-ANT ``task``: at FULL Minari's ``D4RL/antmaze/<task>-v1``, or the D4RL
    v0 hdf5 ``<source>/antmaze-<task>-v0.hdf5`` when ``source`` is a folder; at QUICK/SMOKE the
    UMaze proxy for every AntMaze task and the point maze for ``"pointmaze"``."""
    check_profile(profile)
    if task not in ANTMAZE_TASKS + ("pointmaze",):
        raise ValueError(f"unknown task {task!r} for R-DQL-ANT; allowed values: {', '.join(ANTMAZE_TASKS)}, pointmaze")
    if profile != "full":
        return DQL_ANT_QUICK_DATA["pointmaze" if task == "pointmaze" else "antmaze"]
    if task == "pointmaze":
        raise ValueError("the point maze is the QUICK proxy of Fig 7; at FULL use task large-play")
    return f"d4rl:{source}/antmaze-{task}-v0.hdf5" if source else f"minari:D4RL/antmaze/{task}-v1"


def dql_ant_agent(profile: str, task: str, **changes) -> AgentConfig:
    """Diffusion-QL with the AntMaze settings (:data:`seemlab.rl.diffusion_ql.ANTMAZE`: BC 0.5,
    η 4.5, max-Q backup, reward ×10, lr decay) and the task's gradient clip; FULL 3 × 256 networks
    and 1M steps, QUICK the small proxy of :data:`DQL_ANT_SCALE`."""
    from seemlab.rl import diffusion_ql as dq

    clip = dq.ANTMAZE_GRAD_CLIP.get(task, dq.ANTMAZE["grad_clip"])
    scale = {k: pick(profile, None, smoke=s, quick=q, full=f) for k, (s, q, f) in DQL_ANT_SCALE.items()}
    return dq.preset(**{**dq.ANTMAZE, "grad_clip": clip, **scale, **changes})


DQL_ANT_SCALE = {"steps": (100, 1_200, 1_000_000), "critic_width": (16, 64, 256), "actor_width": (16, 64, 256),
                 "batch_size": (32, 64, 256), "tau": (1.0, 1.0, 0.005), "critic_lr": (1e-3, 1e-3, 3e-4),
                 "actor_lr": (1e-3, 1e-3, 3e-4), "lr_decay": (False, False, True), "actor_ema_tau": (1.0, 1.0, 0.005),
                 "update_ema_every": (1, 1, 5), "step_start_ema": (0, 0, 1000)}
"""(smoke, quick, full) of the run length, sizes and optimisation; the depths stay the paper's 3
hidden layers (Table 5 places LN per layer). FULL is the paper's. QUICK, our choice by pilots on
seeds 1000-1002 (stated on the pages): no target networks, for the critic or the policy (τ = 1,
as the paper's own SEEM runs of TD3; Diffusion-QL's target policy would otherwise stay the
untrained network for its first 1000 steps), and Adam 10⁻³ without decay (the paper's cosine over
1M steps is flat over the first few thousand anyway), so that a divergence can show within 1200
steps; with τ = 0.005 or 3·10⁻⁴ the plain critic's |Q| stayed below the criterion in 3000 pilot
steps."""


def dql_ant_diagnostics(profile: str) -> DiagnosticsConfig:
    """:func:`xpct_diagnostics`; below FULL a run stops once it meets the divergence criterion
    (the quick checks ask only whether and when it does)."""
    diagnostics = xpct_diagnostics(profile)
    return diagnostics if profile == "full" else dataclasses.replace(diagnostics, stop_on="divergence")


def r_dql_ant(profile: str, task: str, arm: str, seed: int = 0, source: str | None = None) -> RunConfig:
    """R-DQL-ANT: Diffusion-QL ``arm`` (:data:`DQL_ANT_ARMS`) on AntMaze ``task`` (or the QUICK
    point maze). OPER-R (p_base 0) for the policy batches on the medium and large mazes as the
    paper, except the "ln_no_oper" arm; FULL evaluates every 50k steps with 100 episodes (the
    paper: every 50 epochs of 1000 steps), so that ``score_last10`` and ``score_best`` exist; SMOKE
    evaluates one episode every 50 steps, so that the tests run the scoring paths; QUICK does not
    evaluate (its proxies ask only about divergence)."""
    if arm not in DQL_ANT_ARMS:
        raise ValueError(f"unknown arm {arm!r} for R-DQL-ANT; allowed values: {', '.join(DQL_ANT_ARMS)}")
    dataset = dql_ant_dataset(task, profile, source)
    oper = task in OPER_TASKS and arm != "ln_no_oper"
    return RunConfig(dataset=dataset, seed=seed, agent=dql_ant_agent(profile, task, **DQL_ANT_ARMS[arm]),
                     diagnostics=dql_ant_diagnostics(profile), oper_p_base=0.0 if oper else None,
                     eval_every=pick(profile, None, smoke=50, quick=0, full=50_000),
                     eval_episodes=pick(profile, None, smoke=1, quick=0, full=100))


TABLE_ARMS = {"Table 1": ("diffql", "ln"), "Table 2": ("ln_no_oper",), "Table 4": ("bn", "wn"),
              "Table 5": ("ln0", "ln01", "ln12", "ln2", "ln_no_affine")}
"""The arms each table adds (Tables 4 and 5 also read Table 1's diffql and ln on their tasks)."""
TABLE_TASKS = {"Table 1": ANTMAZE_TASKS, "Table 2": OPER_TASKS, "Table 4": ("large-play", "large-diverse"),
               "Table 5": ("large-play", "large-diverse")}
"""The tasks of each table at FULL (Table 2's umaze rows are Table 1's: OPER-R is off there)."""
FIG07_ARMS = {"BC 0.5": "diffql", "BC 0.5 + LN": "ln", "BC 10": "bc10"}
"""Fig 7's three curves as R-DQL-ANT arms."""


def dql_ant_grid(profile: str, tasks: Sequence[str], arms: Sequence[str], seeds: Sequence[int],
                 source: str | None = None) -> dict[tuple[str, str, int], RunConfig]:
    """The R-DQL-ANT runs ``(task, arm, seed) -> config`` of the tables: at FULL each arm on the
    tasks of its table (:data:`TABLE_TASKS`) among ``tasks``; at QUICK/SMOKE every arm on every
    task given (the proxy data are the same for all tasks, only OPER-R follows the task)."""
    table_of = {arm: table for table, table_arms in TABLE_ARMS.items() for arm in table_arms}
    out = {}
    for arm in arms:
        wanted = TABLE_TASKS[table_of[arm]] if profile == "full" and arm in table_of else tasks
        for task in (t for t in tasks if t in wanted):
            for seed in seeds:
                out[task, arm, seed] = r_dql_ant(profile, task, arm, seed, source)
    return out
