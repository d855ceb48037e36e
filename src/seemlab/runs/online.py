"""Online SAC runs (Fig 11, run group R-SAC): the arms, a cache keyed by the config, a lock, resume.

:func:`sac_run` trains one :class:`seemlab.rl.sac.SACConfig`, or loads it: the result, a
:class:`SACLog`, is one checksummed file ``<cache>/sac-<key>.npz`` (written atomically by
:mod:`seemlab.runs.cache`, moved aside when bad), the key the SHA-256 of (:data:`FORMAT`, the
config, ``log_every``). The device is not in the key: a run trained on CUDA is found on a CPU
machine, and its metadata names the device it trained on. A lock per key lets concurrent
processes wait for a run instead of training it twice.

Resume: at the first episode boundary after every ``checkpoint_every`` env steps the run's whole
state (the envs' generators, the replay buffer, the trainer, the NumPy and torch generators, the
episode, evaluation and Q1 logs, the step; :meth:`seemlab.rl.sac.SACRun.state_dict`) goes to
``<cache>/checkpoints/sac-<key>.pt``; rerunning after an interruption resumes from it and ends with
the same :class:`SACLog` as an uninterrupted run. The checkpoint is removed once the result is
written.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import seemlab.runs as runs
from seemlab.profiles import check_profile, pick
from seemlab.runs.cache import Lock, _digest, cache_dir, load_checked, write_checked

FORMAT = 4
"""Format of the online-SAC cache key. 4: SAC on the trainer of :mod:`seemlab.rl.soft_actor_critic`,
the device in the metadata and no longer in the key. Files of formats 3 and before (SAC's own
networks, the device in the key) are not found: those runs train again."""


@dataclass(frozen=True)
class SACLog:
    """One online SAC run: ``steps, q1: (n,)`` the batch-mean Q1 every ``log_every`` updates;
    ``episodes: (E, 2)`` (env step, return) of each finished episode; ``stopped_step`` the first
    non-finite Q1 (the run stops there) or None; ``evals: (V, 2)`` (env step, mean return of the
    deterministic policy) of each evaluation (none unless ``eval_every`` is set); ``meta``: where
    and how long it trained (device, seconds, env steps and updates done)."""

    config: dict
    steps: np.ndarray
    q1: np.ndarray
    episodes: np.ndarray
    stopped_step: int | None
    evals: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    meta: dict = field(default_factory=dict)

    @property
    def max_abs_q(self) -> float:
        """The largest logged |Q1| (``inf`` once a log is non-finite)."""
        return runs._max_abs(self.q1)

    def final_return(self, last: int = 10) -> float:
        """Mean return of the last ``last`` finished episodes (NaN without any)."""
        return float(np.mean(self.episodes[-last:, 1])) if len(self.episodes) else float("nan")

    def final_eval_return(self, last: int = 10) -> float:
        """Mean of the last ``last`` evaluations (NaN without any)."""
        return float(np.mean(self.evals[-last:, 1])) if len(self.evals) else float("nan")


SAC_ARMS = {"EMA": dict(tau=0.005), "no EMA": dict(tau=1.0), "no EMA + LN": dict(tau=1.0, critic_norm="layer")}
"""Fig 11's arms: "no EMA" is τ = 1, the target critic copied every step."""


def r_sac(profile: str, env_id: str = "Hopper-v5", seed: int = 0) -> dict:
    """R-SAC: the Fig 11 arms. QUICK: 15k env steps with 1k random warm-up, width 64; FULL:
    1M steps, CleanRL's SAC (width 256, 5k warm-up)."""
    from seemlab.rl.sac import SACConfig

    check_profile(profile)
    base = dict(env_id=env_id, seed=seed, total_steps=pick(profile, None, smoke=600, quick=15_000, full=1_000_000),
                learning_starts=pick(profile, None, smoke=300, quick=1_000, full=5_000),
                width=pick(profile, None, smoke=16, quick=64, full=256),
                eval_every=pick(profile, None, smoke=300, quick=0, full=5_000),  # QUICK: no evaluation (training returns)
                eval_episodes=pick(profile, None, smoke=2, quick=10, full=10))
    return {arm: SACConfig(**base, **changes) for arm, changes in SAC_ARMS.items()}


def sac_key(cfg, log_every: int) -> str:
    """The cache key of ``cfg`` logged every ``log_every`` updates (no device in it)."""
    from seemlab.rl import sac

    return _digest({"format": FORMAT, "sac": sac.cache_config(cfg), "log_every": log_every})


def sac_run(cfg, log_every: int = 100, device: str = "cpu", *, wait: float | None = None,
            checkpoint_every: int = 10_000, hook: Callable[[int], None] | None = None) -> SACLog:
    """Train (or load from the cache) one online SAC run; a non-finite Q1 stops it cleanly.

    A bad cached file is moved aside with a :class:`seemlab.runs.CacheWarning` and the run
    trained again. ``device``: where it trains if it is not cached. ``wait``: seconds to wait for
    another process training the same run (None: as long as it takes). ``checkpoint_every``: env
    steps between checkpoints (each at the next episode boundary). ``hook(step)`` is called after
    every env step and its checkpoint (tests use it to interrupt a run).
    """
    from seemlab.rl import sac

    sac.check_config(cfg)
    if not (isinstance(checkpoint_every, int) and checkpoint_every >= 1):
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    config, key = sac.cache_config(cfg), sac_key(cfg, log_every)
    path = cache_dir() / f"sac-{key}.npz"
    parse = lambda payload: _parse_sac(config, payload)  # noqa: E731
    cached = load_checked(path, parse)
    if cached is not None:
        return cached
    with Lock(cache_dir() / "locks" / f"sac-{key}.lock", wait):
        cached = load_checked(path, parse)  # another process may have trained it while we waited
        if cached is not None:
            return cached
        ckpt = cache_dir() / "checkpoints" / f"sac-{key}.pt"
        log = _train_sac(cfg, config, log_every, device, ckpt, checkpoint_every, hook)
        write_checked(path, _sac_bytes(log))
        ckpt.unlink(missing_ok=True)
        return log


def _parse_sac(config: dict, payload: bytes) -> SACLog:
    z = runs.read_npz(payload)
    stopped = int(z["stopped_step"])
    return SACLog(config, z["steps"], z["q1"], z["episodes"], None if stopped < 0 else stopped, z["evals"],
                  json.loads(str(z["meta"])))


def _sac_bytes(log: SACLog) -> bytes:
    return runs.npz_bytes(dict(steps=log.steps, q1=log.q1, episodes=log.episodes, evals=log.evals,
                               stopped_step=np.int64(-1 if log.stopped_step is None else log.stopped_step),
                               meta=np.array(json.dumps(log.meta))))


def _train_sac(cfg, config: dict, log_every: int, device: str, ckpt: Path, checkpoint_every: int,
               hook: Callable[[int], None] | None) -> SACLog:
    """Train ``cfg`` from its checkpoint if there is one, checkpointing as it goes."""
    from seemlab.rl import sac

    saved = load_checked(ckpt, _parse_checkpoint)
    rows = [] if saved is None else [(int(s), q) for s, q in saved["rows"].tolist()]
    elapsed, last_saved = (0.0, 0) if saved is None else (saved["elapsed"], int(saved["run"]["step"]))
    start = time.perf_counter()

    def record(step: int, metrics: dict) -> bool:
        diverged = not np.isfinite(metrics["q1_batch"])
        if step % log_every == 0 or diverged:
            rows.append((step, metrics["q1_batch"]))
        return diverged

    def after_step(run: sac.SACRun) -> None:
        nonlocal last_saved
        due = run.step // checkpoint_every > last_saved // checkpoint_every
        if due and run.at_boundary and run.step < cfg.total_steps:
            _save_checkpoint(ckpt, run, rows, elapsed + time.perf_counter() - start)
            last_saved = run.step
        if hook is not None:
            hook(run.step)

    with runs.training_threads():
        result = sac.train(cfg, device=device, callback=record, state=None if saved is None else saved["run"],
                           after_step=after_step)
    steps, q1 = (np.asarray(c, dtype=np.float64) for c in zip(*rows)) if rows else (np.zeros(0), np.zeros(0))
    stopped = int(steps[-1]) if rows and not np.isfinite(q1[-1]) else None
    meta = {"device": str(device), "seconds": elapsed + time.perf_counter() - start, "env_steps": result.step,
            "updates": result.trainer.step, "resumed_from": None if saved is None else int(saved["run"]["step"])}
    pairs = lambda xs: np.asarray(xs, dtype=np.float64).reshape(-1, 2)  # noqa: E731
    return SACLog(config, steps, q1, pairs(result.episode_returns), stopped, pairs(result.eval_returns), meta)


def _save_checkpoint(path: Path, run, rows: list[tuple[int, float]], elapsed: float) -> None:
    """The run's state, the Q1 log and the time spent, as ``torch.load(weights_only=True)`` accepts."""
    state = {"run": run.state_dict(), "rows": torch.tensor(rows, dtype=torch.float64).reshape(-1, 2),
             "elapsed": elapsed}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_checked(path, buffer.getvalue())


def _parse_checkpoint(payload: bytes) -> dict:
    # weights_only: a checkpoint is data; a crafted cache file must not run code when loaded
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
