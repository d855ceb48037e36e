"""``seemlab run``: train (or fetch from the cache) TD3-family runs with SEEM diagnostics.

    seemlab run --task hopper --seeds 0 1 2                      # R-SEEM at the quick profile
    seemlab run --dataset local:walker2d-random-10k-v0 --set critic_norm=layer --set steps=5000
    seemlab run --group r-gamma --profile quick --device cuda
    seemlab run --group r-reg --profile quick
    seemlab run --group r-ddpg-abl --task walker2d --fraction 0.5 --profile full --device cuda

``--set key=value`` changes a field of the TD3 config (``seemlab.rl.td3.TD3Config``); values are
parsed as Python literals (``0.99``, ``True``, ``(0,)``) or kept as text. Interrupted runs resume
from their checkpoint when rerun with the same arguments.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="train TD3-family runs with SEEM diagnostics (cached)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--group", choices=("r-seem", "r-gamma", "r-reg", "r-ddpg-abl", "r-norm10"), default="r-seem",
                   help="SPEC §0.3 run group (default r-seem)")
    p.add_argument("--task", default="hopper", help="hopper | walker2d | halfcheetah (r-seem, r-ddpg-abl, r-norm10)")
    p.add_argument("--fraction", type=float, default=0.1, help="X as a fraction in (0, 1] (r-ddpg-abl, r-norm10)")
    p.add_argument("--dataset", help="a seemlab.data.load spec overriding the task's dataset")
    p.add_argument("--profile", default="quick", help="smoke | quick | full (default quick)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TD3Config field")
    p.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto (cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--refresh", action="store_true", help="retrain even if cached")
    p.set_defaults(func=_run)


def parse_sets(items: list[str]) -> dict:
    """``["gamma=0.9", "critic_norm=layer"]`` -> ``{"gamma": 0.9, "critic_norm": "layer"}``."""
    from seemlab.rl.td3 import TD3Config

    fields = {f.name for f in dataclasses.fields(TD3Config)}
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
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    torch.device(name)  # raises on nonsense
    return name


def build_configs(args) -> list:
    from seemlab import runs

    changes = parse_sets(args.set)
    if args.group == "r-seem":
        cfgs = [runs.r_seem(args.task, s, args.profile, **changes) for s in args.seeds]
    elif args.group == "r-gamma":
        cfgs = [c.replace(td3=c.td3.replace(**changes)) for s in args.seeds for c in runs.r_gamma(args.profile, s)]
    elif args.group == "r-reg":
        cfgs = [c.replace(td3=c.td3.replace(**changes)) for s in args.seeds
                for c in runs.r_reg(args.profile, s).values()]
    else:
        data = args.dataset or runs.dataset_for(args.task, args.profile)
        arms = (lambda s: runs.r_ddpg_abl(args.profile, data, args.fraction, s)) if args.group == "r-ddpg-abl" \
            else (lambda s: runs.r_norm10(args.profile, data, s, args.fraction))
        cfgs = [c.replace(td3=c.td3.replace(**changes)) for s in args.seeds for c in arms(s).values()]
    return [c.replace(dataset=args.dataset) for c in cfgs] if args.dataset else cfgs


def _run(args) -> int:
    from seemlab import runs

    cfgs = build_configs(args)
    device = resolve_device(args.device)
    results = runs.run_many(cfgs, device=device, progress=not args.no_progress, refresh=args.refresh)
    for cfg, res in zip(cfgs, results):
        m, ev = res.meta, res.meta.get("eval", {})
        score = ev.get("normalized")
        print(f"{runs.run_path(cfg, device).name}  {cfg.dataset} seed={cfg.seed} γ={cfg.td3.gamma} "
              f"norm={cfg.td3.critic_norm}: diverged_step={m['diverged_step']} "
              f"final |Q|={res.logs['q_abs'][-1]:.3g} SEEM_norm={res.logs.get('seem_norm', [float('nan')])[-1]:.3f} "
              f"score={'n/a' if score is None else f'{score:.1f}'}", file=sys.stdout)
    return 0
