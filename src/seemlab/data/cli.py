"""``seemlab data list|show|generate``: inspect and make offline datasets.

    seemlab data list
    seemlab data show local:hopper-random-10k-v0 [--fraction 0.1]
    seemlab data generate quick                       # the four QUICK random datasets
    seemlab data generate random --env Hopper-v5 --transitions 10000 --seed 0
    seemlab data generate sac --env Hopper-v5 --sac-steps 20000 --transitions 10000 --seed 0
    seemlab data generate scripted --env PointMaze_Medium-v3 --transitions 100000 --noise 0.2
    seemlab data generate card data/local/hopper-random-10k-v0/card.json --data-dir /tmp/x
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

QUICK_SEED = 0
QUICK_TRANSITIONS = 10_000


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="list, show and generate offline datasets",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser("list", help="local datasets and the sources load() accepts")
    p.add_argument("--data-dir", type=Path, help="data folder (default: $SEEMLAB_DATA_DIR or "
                   "<repo>/data)")
    p.set_defaults(func=_list)
    p = sub.add_parser("show", help="load a dataset, print its summary, verify its card")
    p.add_argument("spec", help="minari:<id> | d4rl:<path> | local:<name>")
    p.add_argument("--fraction", type=float, default=1.0, help="X%% as a fraction in (0, 1]")
    p.set_defaults(func=_show)
    _add_generate(sub)


def _add_generate(sub) -> None:
    from seemlab.data import BODIES
    from seemlab.params import integer, number

    gen = sub.add_parser("generate", help="generate local datasets").add_subparsers(
        dest="kind", required=True)
    p = gen.add_parser("quick", help=f"random-policy datasets for {', '.join(BODIES)} "
                       f"({QUICK_TRANSITIONS} transitions, seed {QUICK_SEED}); skips existing")
    p.set_defaults(func=_gen_quick)
    p = gen.add_parser("random", help="a uniform-random-action dataset")
    p.add_argument("--env", required=True, choices=BODIES)
    p.add_argument("--transitions", type=int, default=QUICK_TRANSITIONS)
    p.set_defaults(func=_gen_random)
    p = gen.add_parser("sac", help="SAC behaviour data: medium-replay (its replay buffer) and "
                       "medium (rollouts of its final policy)")
    p.add_argument("--env", required=True, choices=BODIES)
    p.add_argument("--sac-steps", type=int, default=50_000, help="online SAC steps")
    p.add_argument("--transitions", type=int, default=QUICK_TRANSITIONS,
                   help="size of the medium (final-policy) dataset")
    p.set_defaults(func=_gen_sac)
    _add_scripted(gen)
    p = gen.add_parser("card", help="regenerate a dataset from its card.json and compare sha256")
    p.add_argument("card", type=Path)
    p.set_defaults(func=_gen_card)
    for p in gen.choices.values():
        p.add_argument("--data-dir", type=Path, help="data folder to write into")
        if p.get_default("func") in (_gen_random, _gen_sac, _gen_scripted):
            p.add_argument("--seed", type=int, default=QUICK_SEED)
            p.add_argument("--name", help="dataset name (default: derived from env and size)")
            p.set_defaults(options=dict(seed=integer(min=0), transitions=integer(min=1), sac_steps=integer(min=1),
                                        noise=number(0)))


def _add_scripted(gen) -> None:
    from seemlab.data.scripted import MAZES, ScriptedMazeConfig

    default = ScriptedMazeConfig()
    p = gen.add_parser("scripted", help="goal-reaching maze data from a scripted behaviour "
                       "policy: BFS waypoints, PD (point) or trot-gait (ant) control, noise")
    p.add_argument("--env", required=True, choices=MAZES)
    p.add_argument("--transitions", type=int, default=default.transitions)
    p.add_argument("--noise", type=float, default=default.noise,
                   help="std of the Gaussian action noise")
    p.add_argument("--continuing-task", action="store_true",
                   help="do not end an episode at the goal")
    p.add_argument("--reset-target", action="store_true",
                   help="draw a new goal on reaching one (needs --continuing-task)")
    p.set_defaults(func=_gen_scripted)


def _gen_scripted(args) -> int:
    from seemlab.data.scripted import ScriptedMazeConfig, behaviour_success_rate, generate_scripted

    cfg = ScriptedMazeConfig(args.env, args.transitions, args.seed, args.noise,
                             args.continuing_task, args.reset_target)
    _report(generate_scripted(cfg, name=args.name, root=args.data_dir, progress=True))
    rate = behaviour_success_rate(cfg)
    print(f"behaviour policy success rate: {rate['success_rate']:.2f} over {rate['episodes']} "
          f"episodes ({rate['seconds']:.1f} s)")
    return 0


def _list(args) -> int:
    from seemlab.data import SOURCES, local

    root = local.local_root(args.data_dir)
    print(f"local datasets in {root}:")
    for name in local.names(args.data_dir):
        card = local.read_card(root / name)
        size = card.get("size", {})
        print(f"  local:{name:34s} {size.get('transitions', '?'):>8} transitions  "
              f"{size.get('bytes', 0) / 1e6:5.1f} MB  {card.get('generator', 'no card')}")
    _list_minari()
    print("sources accepted by seemlab.data.load:")
    for text in SOURCES.values():
        print(f"  {text}")
    return 0


def _list_minari() -> None:
    import os

    root = Path(os.environ.get("MINARI_DATASETS_PATH", Path.home() / ".minari" / "datasets"))
    if not root.is_dir():
        print(f"Minari datasets: none ({root} does not exist)")
        return
    import minari

    print(f"Minari datasets in {root}:")
    for dataset_id, meta in minari.list_local_datasets().items():
        print(f"  minari:{dataset_id:33s} {meta.get('total_steps', '?'):>8} transitions")


def _show(args) -> int:
    from seemlab.data import load, parse_spec

    source, rest = parse_spec(args.spec)
    start = time.perf_counter()
    data = load(args.spec, fraction=args.fraction)
    elapsed = time.perf_counter() - start
    print(f"{data.name}: {len(data)} transitions (of {data.info['full_size']}), "
          f"d_s={data.obs_dim}, d_a={data.action_dim}, loaded in {elapsed:.2f} s")
    print(f"  source: {data.info['source']}; env: {data.env_id}")
    print(f"  rewards: mean {data.rewards.mean():.4g}, min {data.rewards.min():.4g}, "
          f"max {data.rewards.max():.4g}; terminals {int(data.terminals.sum())}, "
          f"timeouts {int(data.timeouts.sum())}")
    ref = data.reference
    print(f"  reference scores: {f'{ref.min} / {ref.max} ({ref.source})' if ref else 'none'}")
    if source == "local":
        return _verify_local(rest)
    return 0


def _verify_local(name: str) -> int:
    from seemlab.data import local
    from seemlab.data.generate import verify

    folder = local.resolve(name)
    report = verify(folder)
    print(f"  card: {json.dumps(report)}")
    print(f"  regenerate: {local.read_card(folder).get('command', '?')}")
    return 0 if all(report.values()) else 1


def _gen_quick(args) -> int:
    from seemlab.data import local
    from seemlab.data import BODIES
    from seemlab.data.generate import RandomPolicyConfig, default_name, generate_random

    for env_id in BODIES:
        name = default_name(env_id, "random", QUICK_TRANSITIONS)
        if name in local.names(args.data_dir):
            print(f"exists: local:{name}")
            continue
        cfg = RandomPolicyConfig(env_id, QUICK_TRANSITIONS, QUICK_SEED)
        _report(generate_random(cfg, name=name, root=args.data_dir, progress=True))
    return 0


def _gen_random(args) -> int:
    from seemlab.data.generate import RandomPolicyConfig, generate_random

    cfg = RandomPolicyConfig(args.env, args.transitions, args.seed)
    _report(generate_random(cfg, name=args.name, root=args.data_dir, progress=True))
    return 0


def _gen_sac(args) -> int:
    from seemlab.data.generate import SACDataConfig, generate_sac
    from seemlab.rl.sac import SACConfig

    cfg = SACDataConfig(SACConfig(env_id=args.env, seed=args.seed, total_steps=args.sac_steps),
                        transitions=args.transitions)
    for folder in generate_sac(cfg, name=args.name, root=args.data_dir, progress=True):
        _report(folder)
    return 0


def _gen_card(args) -> int:
    from seemlab.data import local
    from seemlab.data.generate import regenerate

    if not args.card.is_file():
        raise ValueError(f"no card at {args.card}")
    want = local.read_card(args.card.parent).get("sha256")
    folder = regenerate(args.card, root=args.data_dir, progress=True)
    got = local.read_card(folder)["sha256"]
    print(f"{folder}: sha256 {got} {'matches' if got == want else 'DIFFERS from'} the card")
    return 0 if got == want else 1


def _report(folder: Path) -> None:
    from seemlab.data import local

    card = local.read_card(folder)
    print(f"wrote local:{card['name']} ({card['size']['transitions']} transitions, "
          f"{card['size']['bytes'] / 1e6:.1f} MB) sha256 {card['sha256']} -> {folder}")
