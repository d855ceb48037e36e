"""Minari datasets (``minari:<id>``), and the reader that local datasets share.

A Minari episode stores T+1 observations and T actions, so every step is a transition with its
true next state. Dict observations (AntMaze) become ``observation ⊕ achieved_goal ⊕ desired_goal``
(:data:`DICT_STATE_KEYS`: the Ant's state, its x, y, and the goal).
Remote datasets are downloaded into ``MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``)
when the network allows; without one the loader fails at once with instructions.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import numpy as np

from seemlab.data.dataset import DataNotFoundError, RawTransitions
from seemlab.data.scores import minari_reference

DICT_STATE_KEYS = ("observation", "achieved_goal", "desired_goal")
"""The AntMaze state: Gymnasium-Robotics' 27-d Ant ``observation`` leaves out the torso's x, y,
which it reports as ``achieved_goal``; D4RL's 29-d AntMaze state has them, and a goal-reaching
policy cannot do without them. SPEC §0.2 names observation ⊕ desired_goal only: we add the
position (see the book's protocol, "Data")."""
HUB_HOST = ("huggingface.co", 443)
PROBE_TIMEOUT_S = 1.0


def flat_state(obs: np.ndarray | dict) -> np.ndarray:
    """Observations (T+1, d) as they are, or a dict's keys :data:`DICT_STATE_KEYS` concatenated (T+1, d_s)."""
    if not isinstance(obs, dict):
        return np.asarray(obs).reshape(len(obs), -1)
    missing = [k for k in DICT_STATE_KEYS if k not in obs]
    if missing:
        raise ValueError(f"dict observations need keys {list(DICT_STATE_KEYS)}; "
                         f"missing {missing} (have {sorted(obs)})")
    return np.concatenate([np.asarray(obs[k]).reshape(len(obs[k]), -1)
                           for k in DICT_STATE_KEYS], axis=1)


def read_minari(dataset, source: str) -> RawTransitions:
    """Flatten a ``minari.MinariDataset``'s episodes into transitions (N = total steps)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("obs", "next", "act", "rew", "term", "trunc")}
    for ep in dataset.iterate_episodes():
        states = flat_state(ep.observations)
        parts["obs"].append(states[:-1])
        parts["next"].append(states[1:])
        parts["act"].append(np.asarray(ep.actions).reshape(len(ep.rewards), -1))
        parts["rew"].append(np.asarray(ep.rewards))
        parts["term"].append(np.asarray(ep.terminations))
        parts["trunc"].append(np.asarray(ep.truncations))
    cat = {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}
    low, high = _box_bounds(dataset.action_space)
    metadata = dataset.storage.metadata
    return RawTransitions(
        observations=cat["obs"], actions=cat["act"], rewards=cat["rew"],
        next_observations=cat["next"], terminals=cat["term"], timeouts=cat["trunc"],
        action_low=low, action_high=high, reference=minari_reference(metadata),
        env_id=_env_id(metadata), source=source)


def _box_bounds(space) -> tuple[np.ndarray | None, np.ndarray | None]:
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    if low is None or high is None:
        return None, None
    return np.asarray(low, np.float32).ravel(), np.asarray(high, np.float32).ravel()


def _env_id(metadata: dict) -> str | None:
    for key in ("eval_env_spec", "env_spec"):
        spec = metadata.get(key)
        if isinstance(spec, str):
            try:
                return json.loads(spec).get("id")
            except ValueError:
                continue
    return None


def read_path(data_path: Path, source: str) -> RawTransitions:
    """Read a Minari dataset folder (the one holding ``metadata.json``) from disk."""
    from minari import MinariDataset
    return read_minari(MinariDataset(str(data_path)), source)


def local_minari_path(dataset_id: str) -> Path:
    """Where Minari keeps ``dataset_id`` on this machine (its ``data`` folder)."""
    from minari.storage.datasets_root_dir import get_dataset_path
    return Path(get_dataset_path(dataset_id)) / "data"


def has_local(dataset_id: str) -> bool:
    return (local_minari_path(dataset_id) / "metadata.json").exists()


def load_minari(dataset_id: str) -> RawTransitions:
    """Read ``dataset_id`` from the local Minari folder, downloading it first if needed."""
    if not has_local(dataset_id):
        download(dataset_id)
    return read_path(local_minari_path(dataset_id), f"minari:{dataset_id}")


def offline_message(dataset_id: str, reason: str) -> str:
    root = local_minari_path(dataset_id).parent.parent
    return (f"Minari dataset {dataset_id!r} is not on this machine ({root}) and cannot be "
            f"downloaded: {reason}. On a machine with internet run `minari download "
            f"{dataset_id}` (needs `pip install 'minari[hf]'`), then copy the folder into "
            f"MINARI_DATASETS_PATH here; set HF_HUB_OFFLINE=1 to skip download attempts. "
            f"Offline alternatives: `d4rl:<file.hdf5>` or `local:<name>` (seemlab data list).")


def download(dataset_id: str) -> None:
    """Download from the Minari hub, failing within about a second when offline."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise DataNotFoundError(offline_message(dataset_id, "HF_HUB_OFFLINE is set"))
    try:
        import huggingface_hub  # noqa: F401  (minari's remote backend)
    except ImportError:
        raise DataNotFoundError(offline_message(
            dataset_id, "huggingface_hub is not installed")) from None
    if not hub_reachable():
        raise DataNotFoundError(offline_message(dataset_id, f"{HUB_HOST[0]} is unreachable"))
    import minari
    minari.download_dataset(dataset_id)


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub opens within ``timeout`` seconds (DNS included)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(HUB_HOST, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
