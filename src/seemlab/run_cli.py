"""``seemlab run``: train (or fetch from the cache) TD3-family runs with SEEM diagnostics.

    seemlab run --task hopper --seeds 0 1 2                      # R-SEEM at the quick profile
    seemlab run --dataset local:walker2d-random-10k-v0 --set critic_norm=layer --set steps=5000
    seemlab run --group r-gamma --profile quick --device cuda
    seemlab run --group r-reg --profile quick
    seemlab run --group r-ddpg-abl --task walker2d --fraction 0.5 --profile full --device cuda
    seemlab run --group r-xpct --algorithm iql --fraction 0.01 --layernorm --seeds 0 1 2
    seemlab run --group r-dql-ant --maze large-play --arm ln --profile full --device cuda   # Table 1's "ours"
    seemlab run --group r-seem --wait 600       # give up after 10 min if another process trains it

Options a group does not use (``--fraction`` outside r-ddpg-abl, r-norm10 and r-xpct, ``--task``
for r-gamma and r-reg, ``--algorithm`` and ``--layernorm`` outside r-xpct, ``--maze`` and ``--arm``
outside r-dql-ant) are errors, as is any bad value: the error names the option, the value and
the allowed values, before anything is trained.

``--set key=value`` changes a field of the algorithm's config (``seemlab.rl.td3.TD3Config``,
``seemlab.rl.iql.IQLConfig``, ...); values are
parsed as Python literals (``0.99``, ``True``, ``(0,)``) or kept as text. Interrupted runs resume
from their checkpoint when rerun with the same arguments.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import sys


GROUP_OPTIONS = {"r-seem": ("task", "dataset"), "r-gamma": ("dataset",), "r-reg": ("dataset",),
                 "r-ddpg-abl": ("task", "fraction", "dataset"), "r-norm10": ("task", "fraction", "dataset"),
                 "r-xpct": ("task", "fraction", "dataset", "algorithm", "layernorm"),
                 "r-dql-ant": ("maze", "arm", "dataset")}
"""The group-specific options each run group uses; giving any other is an error."""
DEFAULTS = dict(task="hopper", fraction=0.1, algorithm="td3_bc", maze="large-play", arm="ln")
DEVICES = ("auto", "cpu", "cuda", "cuda:N")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="train TD3-family runs with SEEM diagnostics (cached)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_arguments(p)
    p.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto (cuda if available)")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="give up after this long if another process trains the same run (default: wait)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--refresh", action="store_true", help="retrain even if cached")
    p.set_defaults(func=_run, options=grid_options())


def add_grid_arguments(p, many: bool = False) -> None:
    """The options :func:`build_configs` reads (a group, its options, the profile, the seeds and
    ``--set``), shared by ``seemlab run`` and ``seemlab sweep``: add a new group's option here.

    ``many`` (the sweep): ``--group`` and each option of :data:`GROUP_OPTIONS` take several values,
    and a flag takes ``off``/``on`` values (bare: on); the sweep trains every combination.
    """
    values = dict(nargs="+") if many else {}
    p.add_argument("--group", default=["r-seem"] if many else "r-seem", **values,
                   help=f"run group: {' | '.join(GROUP_OPTIONS)} (default r-seem)")
    p.add_argument("--task", **values, help="hopper | walker2d | halfcheetah | antmaze (default hopper; r-seem, "
                   "r-ddpg-abl, r-norm10)")
    p.add_argument("--fraction", type=float, **values,
                   help="X as a fraction in (0, 1] (default 0.1; r-ddpg-abl, r-norm10)")
    p.add_argument("--dataset", **values, help="a seemlab.data.load spec overriding the task's dataset")
    p.add_argument("--algorithm", **values, help="td3_bc | iql | cql | diffusion_ql (default td3_bc; r-xpct)")
    flag = dict(nargs="*", choices=("off", "on")) if many else dict(action="store_true", default=None)
    p.add_argument("--layernorm", **flag, help="LayerNorm in the critic (r-xpct)")
    p.add_argument("--maze", **values, help="umaze | umaze-diverse | medium-play | medium-diverse | large-play | "
                   "large-diverse | pointmaze (default large-play; r-dql-ant; pointmaze: Fig 7's QUICK proxy)")
    p.add_argument("--arm", **values, help="a Tables 1/2/4/5 or Fig 7 arm: diffql | ln | ln_no_oper | bn | wn | ln0 | "
                   "ln01 | ln12 | ln2 | ln_no_affine | bc10 (default ln, 'ours'; r-dql-ant)")
    p.add_argument("--profile", default="quick", help="smoke | quick | full (default quick)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a field of the algorithm's config")


def grid_options() -> dict:
    """The options' allowed values (seemlab.params; checked by ``seemlab.cli.main`` and :func:`check_args`)."""
    from seemlab.params import choice, integer, number, sequence_of, text
    from seemlab.profiles import PROFILES
    from seemlab.runs import ANTMAZE_TASKS, DQL_ANT_ARMS, XPCT_ALGORITHMS

    return dict(group=choice(*GROUP_OPTIONS), profile=choice(*PROFILES), task=choice("hopper", "walker2d", "halfcheetah", "antmaze"),
                fraction=number(0, 1, lo_open=True), dataset=text(), seeds=sequence_of(integer(min=0)),
                wait=number(0), algorithm=choice(*XPCT_ALGORITHMS), maze=choice(*ANTMAZE_TASKS, "pointmaze"),
                arm=choice(*DQL_ANT_ARMS))


def check_args(args) -> None:
    """One-line ParameterError for a bad option or one the group does not use, before anything is
    built or trained."""
    from seemlab.data import parse_spec
    from seemlab.params import check_options
    from seemlab.profiles import ParameterError

    check_options(args)
    used = GROUP_OPTIONS[args.group]
    for name in ("task", "fraction", "dataset", "algorithm", "layernorm", "maze", "arm"):
        if getattr(args, name) is not None and name not in used:
            users = [g for g, opts in GROUP_OPTIONS.items() if name in opts]
            raise ParameterError(f"--{name} is not used by --group {args.group}; it applies to {', '.join(users)}")
    if args.dataset is not None:
        parse_spec(args.dataset)


def parse_sets(items: list[str], algorithm: str = "td3_bc") -> dict:
    """``["gamma=0.9", "critic_norm=layer"]`` -> ``{"gamma": 0.9, "critic_norm": "layer"}``, keys
    checked against the fields of ``algorithm``'s config."""
    from seemlab import rl

    fields = {f.name for f in dataclasses.fields(rl.module(algorithm).CONFIG)}
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"--set {item!r}: use KEY=VALUE with KEY one of {', '.join(sorted(fields))}")
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


def resolve_device(name: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` as a torch device name; a one-line ParameterError
    for anything else, or for a CUDA device this machine does not have."""
    import torch

    from seemlab.profiles import ParameterError

    index = name.partition(":")[2]
    if name not in DEVICES[:3] and not (name.startswith("cuda:") and index.isdigit()):
        raise ParameterError(f"unknown --device {name!r}; allowed values: {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"--device {name!r}: CUDA is not available on this machine; allowed values: auto, cpu")
    if index and int(index) >= torch.cuda.device_count():
        raise ParameterError(f"--device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                             f"allowed values: cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    return name


def build_configs(args) -> list:
    from seemlab import runs

    check_args(args)
    task = DEFAULTS["task"] if args.task is None else args.task
    fraction = DEFAULTS["fraction"] if args.fraction is None else args.fraction
    algorithm = DEFAULTS["algorithm"] if args.algorithm is None else args.algorithm
    changes = parse_sets(args.set, "diffusion_ql" if args.group == "r-dql-ant" else algorithm)
    if args.group == "r-seem":
        cfgs = [runs.r_seem(task, s, args.profile, **changes) for s in args.seeds]
    elif args.group == "r-gamma":
        cfgs = [c.replace(agent=c.agent.replace(**changes)) for s in args.seeds for c in runs.r_gamma(args.profile, s)]
    elif args.group == "r-reg":
        cfgs = [c.replace(agent=c.agent.replace(**changes)) for s in args.seeds
                for c in runs.r_reg(args.profile, s).values()]
    elif args.group == "r-dql-ant":
        maze, arm = args.maze or DEFAULTS["maze"], args.arm or DEFAULTS["arm"]
        cfgs = [c.replace(agent=c.agent.replace(**changes)) for c in
                (runs.r_dql_ant(args.profile, maze, arm, s) for s in args.seeds)]
    elif args.group == "r-xpct":
        data = args.dataset or runs.dataset_for(task, args.profile)
        cfgs = [runs.r_xpct(args.profile, data, fraction, s, algorithm, bool(args.layernorm), **changes)
                for s in args.seeds]
    else:
        data = args.dataset or runs.dataset_for(task, args.profile)
        arms = (lambda s: runs.r_ddpg_abl(args.profile, data, fraction, s)) if args.group == "r-ddpg-abl" \
            else (lambda s: runs.r_norm10(args.profile, data, s, fraction))
        cfgs = [c.replace(agent=c.agent.replace(**changes)) for s in args.seeds for c in arms(s).values()]
    return [c.replace(dataset=args.dataset) for c in cfgs] if args.dataset else cfgs


def _run(args) -> int:
    from seemlab import runs

    device = resolve_device(args.device)
    cfgs = build_configs(args)
    wait = {} if args.wait is None else dict(wait=args.wait)  # the lock timeout of seemlab.runs
    results = runs.run_many(cfgs, device=device, progress=not args.no_progress, refresh=args.refresh, **wait)
    for cfg, res in zip(cfgs, results):
        m, ev = res.meta, res.meta.get("eval", {})
        score = ev.get("normalized")
        print(f"{runs.run_path(cfg).name}  {cfg.agent.algorithm} {cfg.dataset} X={cfg.fraction:g} seed={cfg.seed} "
              f"γ={cfg.agent.gamma} "
              f"norm={cfg.agent.critic_norm}: diverged_step={m['diverged_step']} "
              f"final |Q|={res.logs['q_abs'][-1]:.3g} SEEM_norm={res.logs.get('seem_norm', [float('nan')])[-1]:.3f} "
              f"score={'n/a' if score is None else f'{score:.1f}'}", file=sys.stdout)
    return 0
