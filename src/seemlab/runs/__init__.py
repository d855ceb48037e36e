"""Training runs as data: configs, a cache keyed by the full config, resume.

A :class:`RunConfig` (frozen dataclasses all the way down: dataset, seed, the algorithm's config,
diagnostics, evaluation, an optional guard) fully determines a run, given the dataset's content.
Its SHA-256 over canonical JSON, with that content's identity (:func:`seemlab.data.content_id`),
is the cache key. The device is not part of it: a run trained on CUDA is found by a notebook on
a CPU machine, and its metadata records the device it was trained on. The result is one file per
run, ``<cache>/runs/<key>.npz``, written atomically with a checksum by :mod:`seemlab.runs.cache`,
which also moves bad files aside and holds the locks. The cache folder is
``$SEEMLAB_CACHE_DIR``, else ``<repo>/_cache``.

Every algorithm of :mod:`seemlab.rl` trains here through the trainer interface and its one loop
(:func:`seemlab.rl.base.train`). Runs that differ only in their seed or γ train together as one
batched ensemble (:func:`run_many`); each still gets its own file with the same numbers (to float
rounding) as a run alone. Training uses ``threads`` CPU threads (default ``$SEEMLAB_THREADS``,
else 1: the matrices are small, and the book executes notebooks in parallel). A run checkpoints
every ``checkpoint_every`` steps (networks, optimisers, RNG states, step, logs); rerunning after
an interruption resumes from the checkpoint and ends with the same result as an uninterrupted
run. A lock file per ensemble lets concurrent processes wait for a run instead of training it
twice.

The package's other modules: :mod:`~seemlab.runs.cache` (keys, checksummed atomic files, locks),
:mod:`~seemlab.runs.evaluate` (episodes of the trained policy), :mod:`~seemlab.runs.groups` (the
paper's run groups of SPEC §0.3 at each profile) and :mod:`~seemlab.runs.online` (online SAC,
Fig 11); their public names are re-exported here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from seemlab import rl
from seemlab.diagnostics import Diagnostics, DiagnosticsCallback, DiagnosticsConfig
from seemlab.guard import GuardCallback, GuardConfig
from seemlab.rl.base import AgentConfig, Sampler, Trainer, train
from seemlab.rl.oper import OperSampler
from seemlab.rl.td3 import TD3Config
from seemlab.runs.evaluate import evaluate
from seemlab.runs.cache import (CACHE_ENV, CacheWarning, CorruptFileError, Lock, LockTimeout,  # noqa: F401 (API)
                                _digest, cache_dir, load_checked, quarantine, read_checked, write_checked)

FORMAT = 3
"""Bump when the meaning of a stored result changes. 2: the divergence threshold uses max |r|;
3: the key holds the algorithm's config as ``agent`` and no longer the device (format-2 TD3
results are found under their old keys and moved, see :func:`_adopt_legacy`)."""


# ============================================================================ configs
@dataclass(frozen=True)
class RunConfig:
    """One training run."""

    dataset: str = "local:hopper-random-10k-v0"
    """A seemlab.data.load spec (minari:, d4rl:, local:)."""
    seed: int = 0
    """Seeds the networks, minibatches, noise, probe batch and evaluation episodes."""
    agent: AgentConfig = field(default_factory=TD3Config)
    """The algorithm and its settings (a config of :mod:`seemlab.rl`: TD3Config, IQLConfig, ...)."""
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    fraction: float = 1.0
    """X% of the dataset, as a fraction in (0, 1]."""
    normalize_states: bool = True
    """TD3+BC state normalisation (mean/std of the dataset)."""
    eval_episodes: int = 10
    """Evaluation episodes in the Gymnasium env after training (0: none)."""
    guard: GuardConfig | None = None
    """The SEEM guard (:mod:`seemlab.guard`, beyond the paper); None: none, and no key in the hash.
    Guarded runs share an ensemble only with runs of the same guard (it reacts per seed)."""
    oper_p_base: float | None = None
    """OPER-R (:mod:`seemlab.rl.oper`) with this p_base for the policy-improvement batches (the
    SEEM paper: 0 on the medium and large mazes); None: uniform, and no key in the hash."""
    eval_every: int = 0
    """Also evaluate every this many steps, ``eval_episodes`` episodes each (meta ``evals``, and
    the scores ``score_last10``, the mean of the last 10 evaluations, and ``score_best``); 0:
    only after training, and no key in the hash."""

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


OPTIONAL_FIELDS = {"guard": None, "oper_p_base": None, "eval_every": 0}
"""Fields added after runs were cached: left out of the config (and of its hash) at these values,
so that the keys of runs made before they existed stay the same."""


def config_dict(cfg: RunConfig) -> dict:
    """The config as plain JSON-able data, without the :data:`OPTIONAL_FIELDS` at their defaults."""
    out = dataclasses.asdict(cfg)
    for name, default in OPTIONAL_FIELDS.items():
        if name in out and out[name] == default:
            del out[name]
    return out


def config_hash(cfg: RunConfig) -> str:
    """The cache key: SHA-256 of the canonical JSON of (format, config, dataset content), 20 hex.
    The content is in it because a dataset regenerated under the same name must not reuse the
    runs of the old data. The device is not: where a run trained is metadata."""
    return _digest({"format": FORMAT, "config": config_dict(cfg), "data": dataset_id(cfg.dataset)})


def run_path(cfg: RunConfig) -> Path:
    return cache_dir() / "runs" / f"{config_hash(cfg)}.npz"


def _legacy_paths(cfg: RunConfig) -> list[Path]:
    """Where format 2 stored ``cfg`` (TD3 runs only: the config under ``td3``, without the fields
    added since, and the device kind in the key), for CPU and CUDA."""
    if not isinstance(cfg.agent, TD3Config) or cfg.agent.critic_activation != "relu":
        return []
    config = config_dict(cfg)
    td3 = config.pop("agent")
    td3.pop("critic_activation")
    config["td3"] = td3
    return [cache_dir() / "runs" / f"{_digest(dict(format=2, config=config, data=dataset_id(cfg.dataset), device=d))}.npz"
            for d in ("cpu", "cuda")]


def _adopt_legacy(cfg: RunConfig) -> None:
    """Move a format-2 result of ``cfg`` to its format-3 path, so no cached run is trained again."""
    path = run_path(cfg)
    for old in _legacy_paths(cfg):
        if not path.exists() and old.exists():
            os.replace(old, path)


# ============================================================================ results
@dataclass
class RunResult:
    """A finished run: its config, the diagnostics logs and a summary.

    ``logs[key]``: ``(n_logs,)`` arrays, ``logs["step"]`` the logged steps (see
    :mod:`seemlab.diagnostics` for the keys). ``meta``: diverged_step, stopped_step, stop_reason,
    threshold, n_params (P of Q1), eta, eval (returns, normalized score and its source), seconds.
    ``q1_init`` / ``q1_final``: Q1 parameters by name at step 0 and at the end.
    """

    config: dict
    logs: dict[str, np.ndarray]
    meta: dict
    q1_init: dict[str, np.ndarray]
    q1_final: dict[str, np.ndarray]

    @property
    def diverged(self) -> bool:
        return self.meta.get("diverged_step") is not None

    def summary_line(self) -> str:
        """Divergence step, final probe |Q| and normalized SEEM, P and score, on one line."""
        seem = self.logs.get("seem_norm")
        return (f"diverged at {self.meta['diverged_step']}, final |Q| {self.logs['q_abs'][-1]:.3g}, "
                f"normalized SEEM {seem[-1] if seem is not None else float('nan'):.3f}, P = {self.meta['n_params']}, "
                f"score {self.meta['eval'].get('normalized')}")

    @property
    def max_abs_q(self) -> float:
        """The largest logged probe |Q| (``inf`` once a log is non-finite)."""
        return _max_abs(self.logs["q_abs"])

    @property
    def agent(self) -> AgentConfig:
        """The algorithm's config (results of format 2 stored a TD3 config as ``td3``)."""
        return rl.config_from_dict(self.config["agent"] if "agent" in self.config else self.config["td3"])

    def q1_model(self, which: str = "final", dtype: torch.dtype = torch.float32):
        """Q1 as a :class:`seemlab.nets.MLP` with the ``"final"`` or ``"init"`` parameters."""
        from seemlab.nets import MLP

        if which not in ("final", "init"):
            raise ValueError(f"which must be 'final' or 'init', got {which!r}")
        net = MLP(**self.agent.critic_kwargs(self.meta["in_dim"]))
        state = self.q1_final if which == "final" else self.q1_init
        net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=False)
        return net.to(dtype)


def save_result(path: Path, result: RunResult) -> None:
    """Write ``result`` atomically as one checksummed ``.npz`` (see :mod:`seemlab.runs.cache`)."""
    arrays = {f"logs/{k}": v for k, v in result.logs.items()}
    arrays.update({f"q1_init/{k}": v for k, v in result.q1_init.items()})
    arrays.update({f"q1_final/{k}": v for k, v in result.q1_final.items()})
    arrays["meta"] = np.array(json.dumps({"config": result.config, "meta": result.meta}, default=_json))
    write_checked(path, npz_bytes(arrays))


def load_result(path: Path) -> RunResult:
    """The result stored at ``path``.

    Raises:
        FileNotFoundError: there is none.
        CorruptFileError: it was bad; it has been moved aside (the next run redoes it).
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"no run result at {path}")
    result = _read_result(path)
    if result is None:
        raise CorruptFileError(f"{path} was corrupt and has been moved aside; rerun to redo it")
    return result


def _read_result(path: Path) -> RunResult | None:
    """The result at ``path``; None when missing, or bad and moved aside with a warning."""
    return load_checked(path, _parse_result)


def _parse_result(payload: bytes) -> RunResult:
    z = read_npz(payload)
    head = json.loads(str(z["meta"]))
    part = lambda p: {k[len(p):]: v for k, v in z.items() if k.startswith(p)}  # noqa: E731
    return RunResult(head["config"], part("logs/"), head["meta"], part("q1_init/"), part("q1_final/"))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an ``.npz`` file."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_npz(payload: bytes) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file's bytes (no pickled objects)."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _json(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in run metadata")


# ============================================================================ data
def load_dataset(spec: str, fraction: float = 1.0, normalize_states: bool = True):
    """:func:`seemlab.data.load`, generating a missing QUICK ``local:`` dataset first; memoized
    per content, so a dataset rewritten under the same name is read again."""
    return _load_dataset(spec, dataset_id(spec), fraction, normalize_states)


@functools.lru_cache(maxsize=8)
def _load_dataset(spec: str, content: str, fraction: float, normalize_states: bool):
    from seemlab import data as sd

    return sd.load(spec, fraction=fraction, normalize_states=normalize_states)


def dataset_id(spec: str) -> str:
    """:func:`seemlab.data.content_id`, generating a missing QUICK ``local:`` dataset first
    (generation is seeded: the same data, hence the same key, every time)."""
    from seemlab import data as sd

    _generate_if_missing(spec)
    return sd.content_id(spec)


def _generate_if_missing(spec: str) -> None:
    """Generate the QUICK random dataset ``spec`` names when it is not on disk yet."""
    env_id = _quick_env(spec)
    if env_id is None:
        return
    from seemlab.data import local
    from seemlab.data.generate import RandomPolicyConfig, generate_random

    name = spec.partition(":")[2]
    if name in local.names():
        return
    with Lock(cache_dir() / "locks" / f"data-{name}.lock"):
        if name not in local.names():  # another process may have made it while we waited
            generate_random(RandomPolicyConfig(env_id, 10_000, 0), name=name)


def _quick_env(spec: str) -> str | None:
    """The Gymnasium id whose QUICK random dataset ``spec`` names, else None."""
    from seemlab.data import BODIES
    from seemlab.data.generate import default_name

    for env_id in BODIES:
        if spec == f"local:{default_name(env_id, 'random', 10_000)}":
            return env_id
    return None


# ============================================================================ running
def run(cfg: RunConfig, *, device: str = "cpu", progress: bool = False, **kwargs) -> RunResult:
    """The cached result of ``cfg``, training it first if needed (see :func:`run_many`)."""
    return run_many([cfg], device=device, progress=progress, **kwargs)[0]


def run_many(cfgs: Sequence[RunConfig], *, device: str = "cpu", progress: bool = False,
             ensemble: bool = True, checkpoint_every: int = 5000, refresh: bool = False,
             threads: int | None = None, wait: float | None = None) -> list[RunResult]:
    """Results of ``cfgs`` in order; missing ones train, seeds of one config together.

    A cached result that fails its checksum or does not parse is moved aside with a
    :class:`CacheWarning` and trained again.

    Args:
        device: "cpu", "cuda", "cuda:1", ... (resolved by the caller) for the runs that train;
            a run cached from another device is used as it is (its meta says where it trained).
        progress: show a tqdm progress bar per training group.
        ensemble: train runs that differ only in seed as one ensemble (False: one at a time).
        checkpoint_every: steps between resume checkpoints.
        refresh: retrain even when cached.
        threads: CPU threads while training (default ``$SEEMLAB_THREADS``, else 1).
        wait: seconds to wait for another process training the same run before
            :class:`LockTimeout` (None: as long as it takes).
    """
    for cfg in cfgs:
        _check_run(cfg)
    for cfg in cfgs:
        _adopt_legacy(cfg)
    train = dict(device=device, ensemble=ensemble, progress=progress, checkpoint_every=checkpoint_every, wait=wait)
    with training_threads(threads):
        _train_missing(cfgs, refresh=refresh, **train)
        results = [_read_result(run_path(c)) for c in cfgs]
        bad = [c for c, r in zip(cfgs, results) if r is None]  # moved aside as corrupt: train them again
        if bad:
            _train_missing(bad, refresh=False, **train)
            results = [r if r is not None else load_result(run_path(c)) for c, r in zip(cfgs, results)]
    return results


@contextlib.contextmanager
def training_threads(threads: int | None = None):
    """Torch uses ``threads`` CPU threads inside (default ``$SEEMLAB_THREADS``, else 1): the
    networks are small, and the book trains in parallel notebooks, where more threads than cores
    make every run slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads or os.environ.get("SEEMLAB_THREADS", 1)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_missing(cfgs: Sequence[RunConfig], *, device: str, ensemble: bool, refresh: bool, **train) -> None:
    """Train the configs without a cached result (all of them with ``refresh``), grouped."""
    todo = [c for c in dict.fromkeys(cfgs) if refresh or not run_path(c).exists()]
    for group in ensemble_groups(todo, ensemble):
        train_group(group, device=device, refresh=refresh, **train)


def ensemble_groups(cfgs: Sequence[RunConfig], ensemble: bool = True) -> list[list[RunConfig]]:
    """``cfgs`` as the groups that train together (:func:`train_group`), in first-seen order: the
    configs that differ only in seed and γ with ``ensemble``, else one config per group."""
    groups: dict[str, list[RunConfig]] = {}
    for c in cfgs:
        key = config_hash(_member_free(c)) if ensemble else config_hash(c)
        groups.setdefault(key, []).append(c)
    return list(groups.values())


def _member_free(cfg: RunConfig) -> RunConfig:
    """``cfg`` without what may vary inside one ensemble: the seed and γ."""
    return cfg.replace(seed=0, agent=cfg.agent.replace(gamma=0.0))


def _check_run(cfg: RunConfig) -> None:
    if not isinstance(cfg, RunConfig):
        raise ValueError(f"expected a RunConfig, got {type(cfg).__name__}")
    if not isinstance(cfg.agent, AgentConfig):
        raise ValueError(f"RunConfig.agent must be an algorithm config of seemlab.rl, got {type(cfg.agent).__name__}")
    cfg.agent.validate()
    if not 0 < cfg.fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {cfg.fraction!r}")
    if cfg.eval_episodes < 0:
        raise ValueError(f"eval_episodes must be >= 0, got {cfg.eval_episodes!r}")
    if cfg.eval_every < 0:
        raise ValueError(f"eval_every must be >= 0, got {cfg.eval_every!r}")
    if cfg.oper_p_base is not None and not cfg.oper_p_base >= 0:
        raise ValueError(f"oper_p_base must be None or >= 0, got {cfg.oper_p_base!r}")
    if cfg.oper_p_base is not None and cfg.fraction != 1.0:
        raise ValueError(f"OPER-R needs whole trajectories; fraction must be 1 with oper_p_base, got {cfg.fraction!r}")
    from seemlab.data import parse_spec

    parse_spec(cfg.dataset)


def train_group(cfgs: Sequence[RunConfig], *, device: str = "cpu", progress: bool = False,
                checkpoint_every: int = 5000, refresh: bool = False,
                hook: Callable[[int], None] | None = None, wait: float | None = None) -> None:
    """Train configs that differ only in seed and γ as one ensemble, one result file per config.

    Resumes from the group's checkpoint unless ``refresh`` (a bad checkpoint is moved aside and
    the run starts over). ``hook(step)`` is called after each step's logging and checkpoint
    (tests use it to interrupt a run). ``wait``: see :func:`run_many`.
    """
    base = _member_free(cfgs[0])
    if any(_member_free(c) != base for c in cfgs):
        raise ValueError("train_group needs configs that differ only in their seed and gamma")
    hashes = [config_hash(c) for c in cfgs]
    locks = [Lock(cache_dir() / "locks" / f"{h}.lock", wait) for h in sorted(set(hashes))]  # one per run, fixed order
    with contextlib.ExitStack() as stack:
        for lock in locks:
            stack.enter_context(lock)
        todo = [c for c in cfgs if refresh or not run_path(c).exists()]
        if not todo:
            return
        # fewer than cfgs when another process trained some of them meanwhile
        _train_locked(todo, device, progress, checkpoint_every, hook, checkpoint_path(todo), resume=not refresh)


def checkpoint_path(cfgs: Sequence[RunConfig]) -> Path:
    """Where the group ``cfgs`` (in this order) keeps its resume checkpoint."""
    key = hashlib.sha256(",".join(config_hash(c) for c in cfgs).encode()).hexdigest()[:20]
    return cache_dir() / "checkpoints" / f"{key}.pt"


def _train_locked(cfgs, device, progress, checkpoint_every, hook, ckpt: Path, resume: bool = True) -> None:
    cfg, seeds, gammas = cfgs[0], [c.seed for c in cfgs], [c.agent.gamma for c in cfgs]
    data = load_dataset(cfg.dataset, cfg.fraction, cfg.normalize_states).to(device)
    torch.manual_seed(seeds[0])  # the global stream only feeds dropout masks
    agent = rl.make_trainer(cfg.agent, data, seeds, device, gammas)
    sampler = Sampler(data, seeds) if cfg.oper_p_base is None else OperSampler(data, seeds, cfg.oper_p_base)
    diags = [Diagnostics(c.diagnostics, data, c.agent.gamma, c.seed, c.agent.steps) for c in cfgs]
    callback = DiagnosticsCallback(diags)
    guard = GuardCallback(cfg.guard, callback) if cfg.guard is not None else None
    callback = guard or callback
    q1_init = [_q1_state(agent, s) for s in range(len(seeds))]
    evals: list[list[dict]] = [[] for _ in cfgs]  # per member: the periodic evaluations so far
    elapsed = 0.0
    state = load_checked(ckpt, _parse_checkpoint) if resume else None
    if state is not None:
        agent.load_state_dict(state["agent"])
        sampler.set_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        for d, s in zip(diags, state["diagnostics"]):
            d.load_state_dict(s)
        q1_init, elapsed, evals = state["q1_init"], state["elapsed"], state.get("evals", evals)
        if guard is not None:
            guard.load_state_dict(state["guard"])
    start = time.perf_counter()

    def step_callback(step: int, ag: Trainer, metrics: dict) -> bool:
        stop = callback(step, ag, metrics)
        if cfg.eval_every and step > 0 and step % cfg.eval_every == 0:
            for s, c in enumerate(cfgs):
                evals[s].append({"step": step, **evaluate(ag, s, data, c.eval_episodes, c.seed)})
        # Never at step 0: resuming there would log step 0 again (train calls back at step 0 first).
        if 0 < step < cfg.agent.steps and step % checkpoint_every == 0 and not stop:
            _save_checkpoint(ckpt, ag, sampler, diags, q1_init, elapsed + time.perf_counter() - start, guard, evals)
        if hook is not None:
            hook(step)
        return stop

    step_callback.wants_info = callback.wants_info
    bar = _progress_bar(progress, cfg, seeds, agent.step)
    try:
        if not all(d.stopped_step is not None for d in diags):
            train(cfg.agent, data, seeds, device=device, callback=step_callback, trainer=agent, sampler=sampler,
                  progress=bar, gammas=gammas)
    finally:
        if bar is not None:
            bar.close()
    seconds = elapsed + time.perf_counter() - start
    for s, (c, d) in enumerate(zip(cfgs, diags)):
        meta = {**d.summary(), "seconds_train_group": seconds, "group_seeds": seeds, "device": str(device),
                "n_params": len(_flat(q1_init[s])), "eta": cfg.agent.critic_lr,
                "in_dim": data.obs_dim + data.action_dim, "steps_done": agent.step, "dataset_name": data.name,
                "eval": evaluate(agent, s, data, c.eval_episodes, c.seed)}
        if guard is not None:
            meta["guard_events"] = guard.member_events(s)
        if cfg.eval_every:
            meta.update(evals=evals[s], **periodic_scores(evals[s]))
        result = RunResult(config_dict(c), d.finalize(), meta, q1_init[s], _q1_state(agent, s))
        save_result(run_path(c), result)
    ckpt.unlink(missing_ok=True)


def _q1_state(agent: Trainer, s: int) -> dict[str, np.ndarray]:
    return {name: p.detach().cpu().numpy().copy() for name, p in agent.q1_member(s).named_parameters()}


def _flat(state: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([v.reshape(-1) for v in state.values()])


def periodic_scores(evals: list[dict]) -> dict:
    """``score_last10`` (the mean normalized score of the last 10 evaluations, the SEEM paper's
    AntMaze metric) and ``score_best`` (the best one, Diffusion-QL's metric); None without scores."""
    scores = [e["normalized"] for e in evals if e.get("normalized") is not None]
    if not scores:
        return {"score_last10": None, "score_best": None}
    return {"score_last10": float(np.mean(scores[-10:])), "score_best": float(np.max(scores))}


def _save_checkpoint(path: Path, agent, sampler, diags, q1_init, elapsed: float, guard=None,
                     evals: list | None = None) -> None:
    """Everything a resume needs, as what ``torch.load(weights_only=True)`` accepts."""
    state = {"agent": agent.state_dict(), "sampler": sampler.state(), "torch_rng": torch.get_rng_state(),
             "diagnostics": [d.state_dict() for d in diags], "q1_init": q1_init, "elapsed": elapsed,
             "evals": evals or []}
    if guard is not None:
        state["guard"] = guard.state_dict()
    buffer = io.BytesIO()
    torch.save(_tensors_for_numpy(state), buffer)
    write_checked(path, buffer.getvalue())


def _parse_checkpoint(payload: bytes) -> dict:
    # weights_only: a checkpoint is data; a crafted cache file must not run code when loaded
    return _numpy_from_tensors(torch.load(io.BytesIO(payload), weights_only=True))


_NDARRAY, _NPSCALAR = "__numpy_array__", "__numpy_scalar__"


def _tensors_for_numpy(obj):
    """``obj`` with every numpy array or scalar wrapped as a tensor (undone by :func:`_numpy_from_tensors`)."""
    if isinstance(obj, np.ndarray):
        return {_NDARRAY: torch.from_numpy(obj.copy())}
    if isinstance(obj, np.generic):
        return {_NPSCALAR: torch.from_numpy(np.asarray(obj).reshape(1))}  # keeps float32 float32
    if isinstance(obj, dict):
        return {k: _tensors_for_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors_for_numpy(v) for v in obj)
    return obj


def _numpy_from_tensors(obj):
    if isinstance(obj, dict):
        if _NDARRAY in obj:
            return obj[_NDARRAY].numpy()
        if _NPSCALAR in obj:
            return obj[_NPSCALAR].numpy()[0]
        return {k: _numpy_from_tensors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_numpy_from_tensors(v) for v in obj)
    return obj


def _progress_bar(progress: bool, cfg: RunConfig, seeds, initial: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.agent.steps, initial=initial, desc=f"{cfg.dataset} seeds {seeds}", unit="step",
                mininterval=1.0)


from seemlab.runs.groups import (DATASETS, ANTMAZE_FULL, dataset_for, seem_td3, seem_diagnostics, r_seem, r_seem_grid, GAMMAS, r_gamma, REG_ARMS, r_reg, MUJOCO_FULL, XPCT_QUICK_STEPS, xpct_agent, xpct_diagnostics, xpct_run, XPCT_ALGORITHMS, ALGORITHM_NAMES, r_xpct, grid_totals, DDPG_ARMS, r_ddpg_abl, NORM10_ARMS, r_norm10, ANTMAZE_TASKS, OPER_TASKS, DQL_ANT_QUICK_DATA, DQL_ANT_ARMS, DQL_ANT_ARM_NAMES, dql_ant_dataset, dql_ant_agent, r_dql_ant, TABLE_ARMS, TABLE_TASKS, FIG07_ARMS, dql_ant_grid)  # noqa: E402,F401 (API)
from seemlab.runs.online import SAC_ARMS, SACLog, r_sac, sac_run  # noqa: E402,F401 (API)


def _max_abs(values) -> float:
    v = np.abs(np.asarray(values, dtype=np.float64))
    return float(np.max(np.where(np.isfinite(v), v, np.inf))) if v.size else float("nan")
