"""``seemlab sweep``: train run groups on Ray, one task per run (or per ensemble of seeds).

    seemlab sweep --group r-seem --profile smoke --backend ray          # local Ray
    seemlab sweep --group r-seem r-gamma --seeds 0 1 2 --address ray://head:10001
    seemlab sweep --group r-xpct --profile full --algorithm td3_bc iql cql diffusion_ql \\
        --fraction 0.01 0.1 0.5 1 --layernorm off on --seeds 0 1 2 --gpus-per-run 0.25 --dry-run

The grid is what ``seemlab run`` builds (:func:`seemlab.run_cli.build_configs`), for each group
and each combination of the values given for that group's options, so every group of
``seemlab run`` can be swept; a run two groups share trains once. Runs already in the run cache
are not trained: a second sweep over a finished grid starts no Ray and trains nothing.

Driver and workers share no filesystem. Each Ray task trains its configs with
:func:`seemlab.runs.train_group` (the same code, grouping and checkpoint file as ``seemlab run``,
hence the same cache keys and, on the same device and threads, the same numbers) in a temporary
run cache of its own, and streams back to the driver its progress, each resume checkpoint and
finally the result files, as bytes; the driver writes them into its run cache
(:func:`seemlab.runs.cache.write_checked`). A task that fails or whose worker dies (preemption)
is submitted again, up to ``--retries`` times, with the last checkpoint the driver holds, so it
resumes wherever Ray places it. Checkpoints the driver holds when it is itself interrupted are
where the next sweep, or ``seemlab run``, resumes. Every node needs seemlab installed and, for
``local:`` datasets, the same data (a worker checks that its cache keys equal the driver's).
A process that trains the same run outside the sweep at the same time may train it twice; both
write the same result.

``--dry-run`` prints the grid and its cost from the updates/s that
``benchmarks/train_throughput.py --rates-out`` measured per algorithm and width
(``benchmarks/results/updates_per_s.json``), saying on which device they were measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from seemlab import run_cli

RATES = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "updates_per_s.json"
"""Updates/s per device, algorithm and width (written by ``benchmarks/train_throughput.py``)."""
RATE_STAND_INS = {"td3": "td3_bc", "ddpg": "td3_bc"}
"""Algorithms timed by the rate of another with the same update (TD3+BC's networks and passes)."""
BACKENDS = ("ray", "local")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="train run groups on Ray (or list their cost with --dry-run)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_cli.add_grid_arguments(p, many=True)
    p.add_argument("--backend", default="ray", help="ray (default): Ray tasks | local: this process, one by one")
    p.add_argument("--address", help="join this Ray cluster (default: start a local Ray)")
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="CPUs Ray reserves per task (default 1)")
    p.add_argument("--gpus-per-run", type=float, default=0.0,
                   help="GPUs per task, fractions allowed (0.25: four tasks share a GPU; default 0: CPU)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per task (default 1)")
    p.add_argument("--retries", type=int, default=2, help="resubmissions of a failed task (default 2)")
    p.add_argument("--checkpoint-every", type=int, default=5000, help="steps between resume checkpoints")
    p.add_argument("--no-ensemble", action="store_true", help="one task per run (default: seeds train together)")
    p.add_argument("--dry-run", action="store_true", help="print the grid and its estimated cost; train nothing")
    p.add_argument("--rates", type=Path, default=RATES, help="the updates/s file of --dry-run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_sweep, options=_options())


def _options() -> dict:
    from seemlab.params import choice, integer, number, text

    return dict(backend=choice(*BACKENDS), address=text(), cpus_per_run=number(0, lo_open=True),
                gpus_per_run=number(0), threads=integer(min=1), retries=integer(min=0),
                checkpoint_every=integer(min=1))


def check_resources(cpus: float, gpus: float) -> None:
    """A one-line ParameterError for a request Ray cannot place: more than one GPU must be whole."""
    from seemlab.profiles import ParameterError

    if gpus > 1 and gpus != int(gpus):
        raise ParameterError(f"--gpus-per-run {gpus:g}: a request above 1 GPU must be a whole number; "
                             "allowed values: a fraction in [0, 1] or 2, 3, ...")
    if cpus > 1 and cpus != int(cpus):
        raise ParameterError(f"--cpus-per-run {cpus:g}: a request above 1 CPU must be a whole number")


# ============================================================================ the grid
def grid(args) -> list[tuple[str, object]]:
    """``(group, RunConfig)`` of every run the options name, in order, each config once (the first
    group that names it): per group, per combination of the values given for its options, the
    configs ``seemlab run`` builds. Bad input raises one-line ParameterErrors before any compute."""
    from seemlab.params import choice

    for group in args.group:
        choice(*run_cli.GROUP_OPTIONS).check("--group", group)
    names = list(dict.fromkeys(n for opts in run_cli.GROUP_OPTIONS.values() for n in opts))
    given = {n: _values(getattr(args, n, None)) for n in names}
    for name, values in given.items():
        users = [g for g in args.group if name in run_cli.GROUP_OPTIONS[g]]
        if values is not None and not users:
            run_cli.check_args(_namespace(args, args.group[0], {n: None for n in names} | {name: values[0]}))
    out: dict = {}
    for group in dict.fromkeys(args.group):
        used = [n for n in names if given[n] is not None and n in run_cli.GROUP_OPTIONS[group]]
        for combo in itertools.product(*(given[n] for n in used)):
            chosen = {n: None for n in names} | dict(zip(used, combo))
            for cfg in run_cli.build_configs(_namespace(args, group, chosen)):
                out.setdefault(cfg, group)
    return [(group, cfg) for cfg, group in out.items()]


def _values(value) -> list | None:
    """An option's values as a list (None: not given); a flag's ``off``/``on`` as False/True."""
    if value is None:
        return None
    if not value or set(value) <= {"off", "on"}:  # a flag (a value option takes at least one value)
        return [True] if not value else list(dict.fromkeys(v == "on" for v in value))
    return list(dict.fromkeys(value))


def _namespace(args, group: str, chosen: dict) -> argparse.Namespace:
    """The arguments ``seemlab run --group group`` would have with the ``chosen`` option values."""
    return argparse.Namespace(**{**vars(args), **chosen, "group": group, "options": run_cli.grid_options()})


# ============================================================================ dry run: the cost
def load_rates(path: Path) -> tuple[str, dict]:
    """(device, its entry) of the rates file: CUDA's when measured, else the CPU's."""
    from seemlab.profiles import ParameterError

    if not Path(path).exists():
        raise ParameterError(f"no updates/s file at {path}; make it with benchmarks/train_throughput.py --rates-out "
                             f"{path}, or pass --rates FILE")
    table = json.loads(Path(path).read_text())
    device = "cuda" if "cuda" in table else "cpu"
    if device not in table:
        raise ParameterError(f"{path} holds no cuda or cpu rates (has: {', '.join(table) or 'nothing'})")
    return device, table[device]


def run_rate(cfg, rates: dict) -> tuple[float, str] | None:
    """(updates/s, how it was chosen) of ``cfg`` from ``rates`` (algorithm -> width -> updates/s):
    the algorithm's (or its stand-in's) rate at the smallest measured width at or above the critic
    width, else at the largest scaled by (largest / width)²; None when the algorithm has none."""
    algorithm = cfg.agent.algorithm
    name = algorithm if algorithm in rates else RATE_STAND_INS.get(algorithm)
    if name not in rates:
        return None
    widths = sorted(int(w) for w in rates[name])
    width = cfg.agent.critic_width
    above = [w for w in widths if w >= width]
    note = "" if name == algorithm else f"{name}'s rate"
    if above:
        w = above[0]
        return rates[name][str(w)], ", ".join(filter(None, [note, "" if w == width else f"width {w}'s rate"]))
    w = widths[-1]
    return rates[name][str(w)] * (w / width) ** 2, ", ".join(filter(None, [note, f"width {w}'s rate × ({w}/{width})²"]))


def dry_run_lines(labelled: list, rates_path: Path, gpus_per_run: float, cached: set) -> list[str]:
    """The grid, aggregated by (group, algorithm, critic width, steps), and its cost in hours."""
    device, entry = load_rates(rates_path)
    rows: dict = {}
    for group, cfg in labelled:
        rate = run_rate(cfg, entry["updates_per_s"])
        row = rows.setdefault((group, cfg.agent.algorithm, cfg.agent.critic_width, cfg.agent.steps),
                              dict(runs=0, todo=0, rate=rate))
        row["runs"] += 1
        row["todo"] += cfg not in cached
    lines = [f"grid: {len(labelled)} runs, {len(labelled) - len(cached)} not yet in the run cache",
             f"{'group':12} {'algorithm':13} {'width':>5} {'steps':>9} {'runs':>5} {'to do':>5} {'updates/s':>10} "
             f"{'hours':>9}  rate"]
    hours = todo_hours = 0.0
    for (group, algorithm, width, steps), row in rows.items():
        if row["rate"] is None:
            lines.append(f"{group:12} {algorithm:13} {width:5} {steps:9} {row['runs']:5} {row['todo']:5} "
                         f"{'n/a':>10} {'n/a':>9}  no rate for {algorithm}: not counted")
            continue
        rate, note = row["rate"]
        h = steps / rate / 3600
        hours, todo_hours = hours + h * row["runs"], todo_hours + h * row["todo"]
        lines.append(f"{group:12} {algorithm:13} {width:5} {steps:9} {row['runs']:5} {row['todo']:5} {rate:10.1f} "
                     f"{_hours(h * row['runs']):>9}  {note or 'measured'}")
    return lines + _cost_lines(device, entry, hours, todo_hours, gpus_per_run, rates_path)


def _cost_lines(device: str, entry: dict, hours: float, todo_hours: float, gpus: float, path: Path) -> list[str]:
    per_run = gpus or 1.0
    lines = [f"rates: {path.name}, measured on {device} ({entry.get('processor', '?')}, {entry.get('threads', '?')} "
             f"thread(s), torch {entry.get('torch', '?')}, load average {entry.get('load_average', '?')}) on "
             f"{entry.get('date', '?')}; one seed per run, diagnostics "
             "and evaluation not counted (an ensemble of seeds costs less than its runs one by one)",
             f"run-hours: {_hours(hours)} for the grid, {_hours(todo_hours)} for the runs not yet cached"]
    if device == "cpu":
        lines.append("no GPU rates in the file (no GPU was measured): GPU-hours below are run-hours at the CPU rates, "
                     "assuming a GPU trains these small networks no faster than one CPU core")
    lines.append(f"GPU-hours at {per_run:g} GPU per run: {_hours(hours * per_run)} for the grid, "
                 f"{_hours(todo_hours * per_run)} to do")
    return lines


def _hours(h: float) -> str:
    """Four significant digits, without an exponent for large numbers."""
    return f"{h:.0f}" if h >= 1e4 else f"{h:.4g}"


# ============================================================================ driver
@dataclass
class Task:
    """Configs that train together (one run, or the seeds of one config) and their state."""

    cfgs: list
    hashes: list[str]
    steps: int
    attempts: int = 0
    checkpoint_step: int = 0
    step: int = 0
    status: str = "queued"
    """queued | running | done | failed"""
    errors: list[str] = field(default_factory=list)
    started_at: list = field(default_factory=list)
    """The first step each attempt trained (a resumed attempt: the one after its checkpoint's)."""


def sweep(cfgs: list, *, backend: str = "ray", address: str | None = None, cpus_per_run: float = 1.0,
          gpus_per_run: float = 0.0, threads: int = 1, retries: int = 2, checkpoint_every: int = 5000,
          ensemble: bool = True, progress: bool = True, fault: tuple[str, int] | None = None) -> dict:
    """Train the configs of ``cfgs`` not yet in the run cache; returns, per config, a dict with
    ``status`` (cached | trained | failed), ``attempts``, ``errors`` and ``started_at`` (the first
    step of each attempt on Ray: 0, or the step after the checkpoint it resumed from).

    ``fault`` is for tests: ``("raise", step)`` makes each task's first attempt raise at ``step``
    (after that step's checkpoint has been sent), ``("exit", step)`` ends its worker process there.
    """
    from seemlab import runs

    check_resources(cpus_per_run, gpus_per_run)
    todo = [c for c in dict.fromkeys(cfgs) if not runs.run_path(c).exists()]
    outcome = {c: dict(status="cached", attempts=0, errors=[], started_at=[]) for c in cfgs}
    if not todo:
        return outcome
    device = "cuda" if gpus_per_run > 0 else "cpu"
    groups = runs.ensemble_groups(todo, ensemble)
    if backend == "local":
        device = run_cli.resolve_device(device)  # a one-line error where this machine has no GPU
        runs.run_many(todo, device=device, progress=progress, ensemble=ensemble, checkpoint_every=checkpoint_every,
                      threads=threads)
        tasks = [Task(g, [], 0, attempts=1, status="done") for g in groups]
    else:
        tasks = [Task(g, [runs.config_hash(c) for c in g], g[0].agent.steps) for g in groups]
        with _ray(address) as ray:
            _check_capacity(ray, cpus_per_run, gpus_per_run)
            remote = ray.remote(_train_task).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)
            submit = lambda task: remote.remote(task.cfgs, _held_checkpoint(task), task.hashes, device, threads,  # noqa: E731
                                                checkpoint_every, fault if task.attempts == 0 else None)
            _drive(ray, tasks, submit, retries, progress)
    for task in tasks:
        for c in task.cfgs:
            outcome[c] = dict(status="trained" if task.status == "done" else "failed", attempts=task.attempts,
                              errors=task.errors, started_at=task.started_at)
    return outcome


@contextmanager
def _ray(address: str | None):
    """Ray, connected to ``address`` or to a new local instance, shut down (or disconnected) after;
    or the Ray this process has already initialised, left as it is."""
    from seemlab.profiles import ParameterError

    try:
        import ray
    except ImportError:
        raise ParameterError("the ray backend needs Ray: pip install -e .[sweep] (or use --backend local)") from None
    if ray.is_initialized():
        yield ray
        return
    try:
        _init(ray, address)
    except (ConnectionError, ValueError) as err:
        raise ParameterError(f"--address {address!r}: could not connect to Ray ({str(err).splitlines()[0]})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


class SweepError(ValueError):
    """A sweep that cannot start (``seemlab.cli`` prints a ValueError as one line, no traceback)."""


LOCAL_STARTS = 3
"""Tries to start a local Ray: Ray gives its raylet a fixed 30 s to register, which an overloaded
machine can miss."""


def _init(ray, address: str | None) -> None:
    for start in range(1 if address else LOCAL_STARTS):
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
            return
        except Exception as err:  # noqa: BLE001 (Ray raises a bare Exception for a node that timed out)
            ray.shutdown()
            if address or "timed out during startup" not in str(err):
                raise
    raise SweepError(f"a local Ray did not start in {LOCAL_STARTS} tries (its raylet did not register within "
                       "30 s: the machine is overloaded); rerun, or start one with `ray start --head` and pass "
                       "--address auto")


def _check_capacity(ray, cpus: float, gpus: float) -> None:
    from seemlab.profiles import ParameterError

    have = ray.cluster_resources()
    for name, want in (("CPU", cpus), ("GPU", gpus)):
        if want > have.get(name, 0):
            raise ParameterError(f"--{name.lower()}s-per-run {want:g}: the Ray cluster has {have.get(name, 0):g} "
                                 f"{name}(s) in all, so no task could start")


def _held_checkpoint(task: Task) -> bytes | None:
    """The driver's checkpoint of ``task`` (from an earlier attempt, sweep or ``seemlab run``)."""
    from seemlab import runs

    return runs.load_checked(runs.checkpoint_path(task.cfgs), lambda payload: payload)


def _drive(ray, tasks: list[Task], submit, retries: int, progress: bool) -> None:
    """Submit every task, handle what each streams back, resubmit failures; until all end."""
    live = {}
    for task in tasks:
        live[submit(task)] = task
    bar = _Bar(tasks, progress)
    bar.show()
    try:
        while live:
            ray.wait(list(live), num_returns=1, timeout=1.0)  # until one has news, then take all that have
            ready, _ = ray.wait(list(live), num_returns=len(live), timeout=0)
            for gen in ready:
                task = live.pop(gen)
                if _next_event(ray, gen, task, bar):
                    live[gen] = task
                elif task.status != "done":
                    task.status = "queued" if task.attempts <= retries else "failed"
                    if task.status == "queued":
                        live[submit(task)] = task
                bar.show()
    finally:
        bar.close()


def _next_event(ray, gen, task: Task, bar) -> bool:
    """Handle the next event of a task's stream; False when the stream has ended, with the task
    done or, after an error or a lost worker, with one more failed attempt."""
    from ray.exceptions import RayError

    try:
        kind, value = ray.get(next(gen))
    except (StopIteration, RayError) as err:
        if task.status != "done":
            task.attempts += 1
            task.errors.append(_first_line(err) if isinstance(err, RayError) else "ended without results")
            bar.rewind(task)
        return False
    _handle(kind, value, task, bar)
    return True


def _handle(kind: str, value, task: Task, bar) -> None:
    """What a worker sent: started, step, checkpoint (step, bytes) or results (bytes per config)."""
    from seemlab import runs

    if kind == "started":
        task.status, task.step = "running", task.checkpoint_step
        task.started_at.append(None)
    elif kind == "step":
        if task.started_at and task.started_at[-1] is None:
            task.started_at[-1] = value
        bar.advance(task, value)
    elif kind == "checkpoint":
        step, payload = value
        runs.write_checked(runs.checkpoint_path(task.cfgs), payload)
        task.checkpoint_step = step
    elif kind == "results":
        for cfg, payload in zip(task.cfgs, value):
            runs.write_checked(runs.run_path(cfg), payload)
        runs.checkpoint_path(task.cfgs).unlink(missing_ok=True)
        task.attempts += 1
        task.status = "done"
        bar.advance(task, task.steps)


def _first_line(err: BaseException) -> str:
    """The exception's type and the last line of its message (Ray puts the worker's traceback first)."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else ''}"[:200]


class _Bar:
    """A tqdm bar over the steps of every task, with runs done, running and failed, and the ETA."""

    def __init__(self, tasks: list[Task], progress: bool):
        self.tasks, self.bar = tasks, None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=sum(t.steps for t in tasks), unit="step", desc="sweep", mininterval=1.0)

    def advance(self, task: Task, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - task.step)
        task.step = step

    def rewind(self, task: Task) -> None:
        """A failed attempt: its steps past the last checkpoint count again."""
        self.advance(task, task.checkpoint_step)

    def show(self) -> None:
        if self.bar is not None:
            count = lambda status: sum(len(t.cfgs) for t in self.tasks if t.status == status)  # noqa: E731
            self.bar.set_postfix_str(f"runs: {count('done')} done, {count('running')} running, "
                                     f"{count('failed')} failed, {count('queued')} queued", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.show()
            self.bar.close()


# ============================================================================ worker
def _train_task(cfgs: list, checkpoint: bytes | None, hashes: list[str], device: str, threads: int,
                checkpoint_every: int, fault: tuple[str, int] | None):
    """A Ray task (a generator): train ``cfgs`` in a temporary run cache and stream back
    ``("started", None)``, ``("step", step)``, ``("checkpoint", (step, bytes))`` and at the end
    ``("results", [bytes per config])``. Raises when the node's data gives other cache keys."""
    from seemlab import runs

    with tempfile.TemporaryDirectory(prefix="seemlab-sweep-") as folder, _cache_dir(folder):
        mine = [runs.config_hash(c) for c in cfgs]
        if mine != hashes:
            raise RuntimeError(f"this node's data give cache keys {mine}, the driver's are {hashes}: "
                               "the datasets differ; install the same data on every node")
        if checkpoint is not None:
            runs.write_checked(runs.checkpoint_path(cfgs), checkpoint)
        yield "started", None
        events: queue.Queue = queue.Queue()
        threading.Thread(target=_train_thread, args=(cfgs, device, threads, checkpoint_every, fault, events),
                         daemon=True).start()
        while True:
            kind, value = events.get()
            if kind == "error":
                raise value
            yield kind, value
            if kind == "results":
                return


def _train_thread(cfgs, device, threads, checkpoint_every, fault, events: queue.Queue) -> None:
    """:func:`seemlab.runs.train_group`, putting its events on ``events`` (see :func:`_train_task`)."""
    from seemlab import runs

    steps, ckpt = cfgs[0].agent.steps, runs.checkpoint_path(cfgs)
    every, first = max(1, steps // 100), [True]

    def hook(step: int) -> None:
        if step % every == 0 or first[0]:  # and the first step, where this attempt started
            first[0] = False
            events.put(("step", step))
        if 0 < step < steps and step % checkpoint_every == 0 and ckpt.exists():
            events.put(("checkpoint", (step, runs.read_checked(ckpt))))
        if fault is not None and step == fault[1]:
            _inject(fault[0], step)

    try:
        runs.train_group(cfgs, device=device, checkpoint_every=checkpoint_every, hook=hook, wait=0)
        events.put(("results", [runs.read_checked(runs.run_path(c)) for c in cfgs]))
    except BaseException as err:  # noqa: BLE001 (handed to the task, which raises it in the worker)
        events.put(("error", err))


class InjectedFault(RuntimeError):
    """The failure a test asked for (``sweep(fault=("raise", step))``)."""


def _inject(kind: str, step: int) -> None:
    if kind == "raise":
        raise InjectedFault(f"injected failure at step {step}")
    time.sleep(1.0)  # let the checkpoint already queued leave first; a real preemption gives no such grace
    os._exit(1)


@contextmanager
def _cache_dir(folder: str):
    """The run cache is ``folder`` inside (the worker's own; the driver's may be on another machine)."""
    from seemlab.runs import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = folder
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = before


# ============================================================================ command
def _sweep(args) -> int:
    check_resources(args.cpus_per_run, args.gpus_per_run)
    labelled = grid(args)
    if args.dry_run:
        cached = {c for _, c in labelled if _cached(c)}
        print("\n".join(dry_run_lines(labelled, args.rates, args.gpus_per_run, cached)))
        return 0
    start = time.perf_counter()
    outcome = sweep([c for _, c in labelled], backend=args.backend, address=args.address,
                    cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run, threads=args.threads,
                    retries=args.retries, checkpoint_every=args.checkpoint_every, ensemble=not args.no_ensemble,
                    progress=not args.no_progress)
    print("\n".join(summary_lines(labelled, outcome, time.perf_counter() - start)))
    return 1 if any(o["status"] == "failed" for o in outcome.values()) else 0


def _cached(cfg) -> bool:
    """Whether the run cache holds ``cfg``'s result (False when its local dataset is not made yet:
    a dry run needs no data)."""
    from seemlab import runs
    from seemlab.data import DataNotFoundError

    try:
        return runs.run_path(cfg).exists()
    except DataNotFoundError:
        return False


def summary_lines(labelled: list, outcome: dict, seconds: float) -> list[str]:
    """One line per run (group, algorithm, data, X, seed, γ, status, attempts, divergence, |Q|,
    score), then the counts."""
    from seemlab import runs

    lines = [f"{'group':12} {'algorithm':12} {'dataset':36} {'X':>5} {'seed':>4} {'γ':>5} {'status':8} "
             f"{'tries':>5} {'diverged':>9} {'final |Q|':>10} {'score':>6}"]
    for group, cfg in labelled:
        o = outcome[cfg]
        head = (f"{group:12} {cfg.agent.algorithm:12} {cfg.dataset[-36:]:36} {cfg.fraction:5g} {cfg.seed:4} "
                f"{cfg.agent.gamma:5g} {o['status']:8} {o['attempts']:5}")
        if o["status"] == "failed":
            lines.append(f"{head}  {o['errors'][-1] if o['errors'] else ''}")
            continue
        res = runs.load_result(runs.run_path(cfg))
        score = res.meta.get("eval", {}).get("normalized")
        lines.append(f"{head} {str(res.meta['diverged_step']):>9} {res.logs['q_abs'][-1]:10.3g} "
                     f"{'n/a' if score is None else f'{score:.1f}':>6}")
    counts = {s: sum(o["status"] == s for o in outcome.values()) for s in ("trained", "cached", "failed")}
    lines.append(f"{len(outcome)} runs: {counts['trained']} trained, {counts['cached']} cached, {counts['failed']} "
                 f"failed, {sum(max(o['attempts'] - 1, 0) for o in outcome.values())} retries, in {seconds:.1f} s")
    return lines

