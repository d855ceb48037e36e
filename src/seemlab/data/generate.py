"""Generate local datasets: random-policy data (QUICK, SPEC §0.3) and SAC behaviour data
(scripted maze data: :mod:`seemlab.data.scripted`).

Each dataset is a Minari dataset under ``data/local/<name>/`` plus ``card.json``
(:mod:`seemlab.data.local`). Everything is seeded: the same config on CPU gives the same
transitions, hence the same content sha256 (:func:`seemlab.data.dataset.content_sha256`).

Episodes are collected until exactly ``transitions`` steps exist; the last episode is cut there
and marked truncated (a timeout, as in D4RL).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seemlab import envs
from seemlab.data import BODIES, local
from seemlab.data.dataset import content_sha256
from seemlab.data.minari_source import read_path

AUTHOR = "seemlab"
CODE = "src/seemlab/data/generate.py"


@dataclass(frozen=True)
class RandomPolicyConfig:
    """Uniform random actions in the env's action box ([-1, 1]^d_a for every body here)."""

    env_id: str = "Hopper-v5"
    """Gymnasium id: one of BODIES."""
    transitions: int = 10_000
    """N, the exact number of transitions."""
    seed: int = 0
    """Seeds the first env reset and the action generator."""


@dataclass
class Episode:
    """One episode: observations (T+1, d_s) or a dict of such arrays, actions (T, d_a),
    rewards, terminations, truncations (T,)."""

    observations: Any
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray

    @property
    def ret(self) -> float:
        return float(np.sum(self.rewards))


def make_env(env_id: str):
    """:func:`seemlab.envs.make_env` for one of :data:`seemlab.data.BODIES` (the bodies whose data
    this module generates); a one-line ValueError for any other id."""
    if env_id not in BODIES:
        raise ValueError(f"unknown body {env_id!r}; choose one of {list(BODIES)}")
    return envs.make_env(env_id)


def default_name(env_id: str, kind: str, transitions: int) -> str:
    """E.g. ("Hopper-v5", "random", 10000) -> "hopper-random-10k-v0"."""
    body = env_id.rsplit("-v", 1)[0].lower().replace("_", "-")
    return f"{body}-{kind}-{size_tag(transitions)}-v0"


def size_tag(n: int) -> str:
    for unit, div in (("m", 1_000_000), ("k", 1000)):
        if n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def _stack(obs_list: list) -> Any:
    if isinstance(obs_list[0], dict):
        return {k: np.stack([o[k] for o in obs_list]).astype(np.float32) for k in obs_list[0]}
    return np.stack(obs_list).astype(np.float32)


def collect(env, act: Callable[[Any], np.ndarray], transitions: int, seed: int,
            progress: bool = False, desc: str = "collect") -> list[Episode]:
    """Run ``act`` (state -> action (d_a,)) in ``env`` for exactly ``transitions`` steps.

    Only the first reset is seeded; later resets continue the env's generator.
    """
    from tqdm.auto import tqdm

    episodes: list[Episode] = []
    obs, _ = env.reset(seed=seed)
    steps = {k: [] for k in ("obs", "act", "rew", "term", "trunc")}
    steps["obs"].append(obs)
    for t in tqdm(range(transitions), desc=desc, disable=None if progress else True, unit="step"):
        action = np.asarray(act(obs), dtype=np.float32)
        obs, reward, term, trunc, _ = env.step(action)
        trunc = trunc or (t == transitions - 1 and not term)
        for key, value in zip(("obs", "act", "rew", "term", "trunc"),
                              (obs, action, reward, term, trunc)):
            steps[key].append(value)
        if term or trunc:
            episodes.append(_episode(steps))
            if t < transitions - 1:
                obs, _ = env.reset()
                steps = {k: [] for k in steps}
                steps["obs"].append(obs)
    return episodes


def _episode(steps: dict[str, list]) -> Episode:
    return Episode(_stack(steps["obs"]), np.stack(steps["act"]).astype(np.float32),
                   np.asarray(steps["rew"], np.float32), np.asarray(steps["term"], bool),
                   np.asarray(steps["trunc"], bool))


def random_policy(action_space, seed: int) -> Callable[[Any], np.ndarray]:
    """Uniform actions in the box, from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    low, high = action_space.low.astype(np.float64), action_space.high.astype(np.float64)
    return lambda _obs: rng.uniform(low, high).astype(np.float32)


def generate_random(cfg: RandomPolicyConfig, *, name: str | None = None,
                    root: Path | None = None, progress: bool = False) -> Path:
    """Collect and write a random-policy dataset; returns its folder."""
    _check_positive(cfg.transitions, "transitions")
    env = make_env(cfg.env_id)
    name = name or default_name(cfg.env_id, "random", cfg.transitions)
    episodes = collect(env, random_policy(env.action_space, cfg.seed), cfg.transitions,
                       cfg.seed, progress, desc=name)
    command = (f"seemlab data generate random --env {cfg.env_id} --transitions "
               f"{cfg.transitions} --seed {cfg.seed} --name {name}")
    return write_dataset(name, episodes, env, generator="random", config=cfg, command=command,
                         description="Uniform random actions in the action box.", root=root)


def _check_positive(value: int, what: str) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def _float32_space(space):
    import gymnasium as gym

    if isinstance(space, gym.spaces.Dict):
        return gym.spaces.Dict({k: _float32_space(s) for k, s in space.spaces.items()})
    return gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32),
                          space.shape, np.float32)


def write_dataset(name: str, episodes: list[Episode], env, *, generator: str, config: Any,
                  command: str, description: str, root: Path | None = None,
                  observation_space=None, base_name: str | None = None,
                  metadata: dict[str, Any] | None = None) -> Path:
    """Write ``episodes`` as a Minari dataset plus its card, atomically; returns the folder.
    ``metadata``: extra Minari metadata, e.g. ``ref_min_score`` / ``ref_max_score``.

    Raises:
        ValueError: a dataset of that name already exists.
    """
    base = local.local_root(root)
    target = base / name
    if target.exists():
        raise ValueError(f"local dataset {name!r} already exists at {target}; delete it or "
                         f"pass another --name")
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=base))
    try:
        obs_space = observation_space or _float32_space(env.observation_space)
        _write_minari(tmp / "data", name, episodes, env, obs_space, generator, description,
                      metadata or {})
        card = make_card(tmp, name, episodes, env, generator, config, command)
        local.write_card(tmp, card | ({"base_name": base_name} if base_name else {}))
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_minari(path: Path, name: str, episodes: list[Episode], env, obs_space,
                  generator: str, description: str, metadata: dict[str, Any]) -> None:
    """Minari's metadata through Minari; episodes written as contiguous hdf5 datasets.

    Minari's own writer makes every dataset chunked and resizable, about 15 kB per episode (a
    10k-step Hopper random dataset of 429 episodes took 6.7 MB); this writes the same groups
    and names, which Minari's reader loads unchanged, in a fifth of the space.
    """
    from minari.dataset.minari_storage import MinariStorage

    storage = MinariStorage.new(path, observation_space=obs_space,
                                action_space=_float32_space(env.action_space),
                                env_spec=env.spec, data_format="hdf5")
    _write_episodes(path / "main_data.hdf5", episodes)
    storage.update_metadata({
        "dataset_id": name, "minari_version": importlib.metadata.version("minari"),
        "algorithm_name": f"seemlab {generator}", "author": {AUTHOR}, "code_permalink": CODE,
        "description": description, "total_episodes": len(episodes),
        "total_steps": int(sum(len(ep.rewards) for ep in episodes))} | metadata)
    storage.update_metadata({"dataset_size": storage.get_size()})


def _write_episodes(file_path: Path, episodes: list[Episode]) -> None:
    """Episodes as groups ``episode_<i>`` in Minari's hdf5 layout (no timestamps: bit-stable)."""
    import h5py

    with h5py.File(file_path, "w", track_order=True) as f:
        for i, ep in enumerate(episodes):
            group = f.create_group(f"episode_{i}")
            group.attrs["id"] = i
            group.attrs["total_steps"] = len(ep.rewards)
            _put(group, "observations", ep.observations)
            for key in ("actions", "rewards", "terminations", "truncations"):
                _put(group, key, getattr(ep, key))


def _put(group, key: str, value) -> None:
    if isinstance(value, dict):
        sub = group.create_group(key)
        for k in value:
            _put(sub, k, value[k])
    else:
        group.create_dataset(key, data=value, track_times=False)


def make_card(folder: Path, name: str, episodes: list[Episode], env, generator: str,
              config: Any, command: str) -> dict[str, Any]:
    """The data card: generator, config, seed, returns, size, checksums, command, versions."""
    raw = read_path(folder / "data", f"local:{name}")
    complete = episodes if not _cut(episodes[-1], env.spec.max_episode_steps) else episodes[:-1]
    returns = np.array([ep.ret for ep in complete] or [np.nan])
    return {
        "name": name, "generator": generator, "config": dataclasses.asdict(config),
        "seed": getattr(config, "seed", None), "env_id": env.spec.id,
        "env_kwargs": envs.ENV_KWARGS.get(env.spec.id, {}), "command": command,
        "size": {"transitions": int(raw.rewards.shape[0]), "episodes": len(episodes),
                 "obs_dim": int(raw.observations.shape[1]),
                 "action_dim": int(raw.actions.shape[1]),
                 "bytes": sum(p.stat().st_size for p in (folder / "data").rglob("*"))},
        "returns": _return_stats(returns), "reward": _return_stats(raw.rewards),
        "sha256": content_sha256(raw), "files_sha256": local.file_sha256s(folder),
        "versions": {p: importlib.metadata.version(p) for p in
                     ("seemlab", "minari", "gymnasium", "gymnasium-robotics", "mujoco",
                      "numpy", "torch", "h5py")},
    }


def _cut(ep: Episode, max_steps: int | None) -> bool:
    """Whether the last episode was cut by the transition budget (its return is partial)."""
    full = max_steps is not None and len(ep.rewards) >= max_steps
    return not bool(ep.terminations[-1]) and not full


def _return_stats(values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, np.float64)
    if not np.isfinite(values).any():
        return {"n": 0}
    return {"n": int(values.size), "mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max())}


@dataclass(frozen=True)
class SACDataConfig:
    """Behaviour data from a short online SAC run (:mod:`seemlab.rl.sac`)."""

    sac: Any  # seemlab.rl.sac.SACConfig
    """The SAC run; its replay buffer (all ``total_steps`` transitions) is "medium-replay"."""
    transitions: int = 10_000
    """Size of "medium": rollouts of the final (stochastic) policy, env seeded with seed + 1."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SACDataConfig:
        from seemlab.rl.sac import SACConfig
        return cls(SACConfig(**data["sac"]), int(data["transitions"]))


def sac_names(cfg: SACDataConfig, base: str | None = None) -> tuple[str, str, str]:
    """(base, medium-replay name, medium name), e.g. hopper-sac50k-medium-replay-v0."""
    body = cfg.sac.env_id.rsplit("-v", 1)[0].lower().replace("_", "-")
    base = base or f"{body}-sac{size_tag(cfg.sac.total_steps)}"
    return base, f"{base}-medium-replay-v0", f"{base}-medium-{size_tag(cfg.transitions)}-v0"


def generate_sac(cfg: SACDataConfig, *, name: str | None = None, root: Path | None = None,
                 progress: bool = False) -> list[Path]:
    """Train SAC on CPU (one thread, for bit-stable results), then write medium-replay (its
    replay buffer) and medium (final-policy rollouts). Returns both folders."""
    import torch

    from seemlab.rl import sac

    _check_positive(cfg.transitions, "transitions")
    if cfg.sac.buffer_size is not None:
        raise ValueError("SACDataConfig.sac.buffer_size must be None: medium-replay keeps all")
    base, replay_name, medium_name = sac_names(cfg, name)
    for n in (replay_name, medium_name):
        if (local.local_root(root) / n).exists():
            raise ValueError(f"local dataset {n!r} already exists; delete it or pass --name")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = sac.train(cfg.sac, device="cpu", progress=progress)
        env = make_env(cfg.sac.env_id)
        act = sac.policy_fn(result.trainer, torch.Generator().manual_seed(cfg.sac.seed + 1))
        medium = collect(env, act, cfg.transitions, cfg.sac.seed + 1, progress, medium_name)
    finally:
        torch.set_num_threads(threads)
    command = (f"seemlab data generate sac --env {cfg.sac.env_id} --sac-steps "
               f"{cfg.sac.total_steps} --transitions {cfg.transitions} --seed {cfg.sac.seed}"
               + (f" --name {name}" if name else ""))
    common = dict(config=cfg, command=command, root=root, base_name=name)
    replay = buffer_episodes(result.buffer)
    flat_space = _flat_box(result.buffer.observations.shape[1])
    return [
        write_dataset(replay_name, replay, env, generator="sac-replay",
                      observation_space=flat_space,
                      description="Replay buffer of an online SAC run (medium-replay).", **common),
        write_dataset(medium_name, medium, env, generator="sac-policy",
                      description="Rollouts of the final SAC policy (medium).", **common)]


def _flat_box(dim: int):
    import gymnasium as gym
    return gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)


def buffer_episodes(buffer) -> list[Episode]:
    """Split a replay buffer (filled in arrival order, never wrapped) into episodes; the run's
    last, unfinished episode is marked truncated."""
    n = buffer.size
    if n > len(buffer.rewards):
        raise ValueError("the replay buffer wrapped around; cannot rebuild episodes")
    ends = np.flatnonzero((buffer.terminated[:n] > 0) | (buffer.truncated[:n] > 0))
    if len(ends) == 0 or ends[-1] != n - 1:
        ends = np.append(ends, n - 1)
    episodes, start = [], 0
    for end in ends:
        sl = slice(start, end + 1)
        obs = np.concatenate([buffer.observations[sl], buffer.next_observations[end:end + 1]])
        trunc = buffer.truncated[sl] > 0
        trunc[-1] = trunc[-1] or not buffer.terminated[end]
        episodes.append(Episode(obs, buffer.actions[sl], buffer.rewards[sl],
                                buffer.terminated[sl] > 0, trunc))
        start = end + 1
    return episodes


def verify(folder: Path) -> dict[str, bool]:
    """Check a local dataset against its card: file checksums and content sha256."""
    card = local.read_card(folder)
    if not card:
        raise ValueError(f"{folder} has no {local.CARD}")
    raw = read_path(folder / "data", f"local:{folder.name}")
    return {"files_sha256": local.file_sha256s(folder) == card.get("files_sha256"),
            "sha256": content_sha256(raw) == card.get("sha256")}


def regenerate(card_path: Path, *, root: Path | None = None, progress: bool = False) -> Path:
    """Regenerate the dataset a card describes into ``root``; returns its folder."""
    card = local.read_card(Path(card_path).parent)
    generator, name = card.get("generator"), card.get("name")
    if generator == "random":
        return generate_random(RandomPolicyConfig(**card["config"]), name=name, root=root,
                               progress=progress)
    if generator in ("sac-replay", "sac-policy"):
        cfg = SACDataConfig.from_dict(card["config"])
        folders = generate_sac(cfg, name=card.get("base_name"), root=root, progress=progress)
        return folders[0 if generator == "sac-replay" else 1]
    if generator == "scripted":
        from seemlab.data.scripted import ScriptedMazeConfig, generate_scripted
        return generate_scripted(ScriptedMazeConfig(**card["config"]), name=name, root=root,
                                 progress=progress)
    raise ValueError(f"card {card_path} has generator {generator!r}; expected one of "
                     f"'random', 'sac-replay', 'sac-policy', 'scripted'")
