"""FULL's datasets in their real layouts, made locally from the committed random-policy data.

The hub is out of reach in tests, so each Minari id a FULL page loads is written under a
temporary ``MINARI_DATASETS_PATH`` with that id: a copy of the same body's ``local:`` dataset (a
Minari folder, as ``seemlab data generate`` writes it) with the id, and for AntMaze the reference
scores, that the hub's metadata carries. A D4RL file gets D4RL's top-level arrays (observations,
actions, rewards, terminals, timeouts: T rows, an episode's last row flagged as a timeout unless
it terminated), named like the paper's files so that the task family and scores follow from it;
an AntMaze file's observations are the Ant's x, y ⊕ Gymnasium's 27 (D4RL's 29: qpos ⊕ qvel), with
the goal in ``infos/goal``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from seemlab import runs
from seemlab.data.local import resolve

BODIES = ("hopper", "walker2d", "halfcheetah", "antmaze")
ANTMAZE_REFERENCE = {"ref_min_score": 0.0, "ref_max_score": 1.0}
"""The hub's D4RL/antmaze datasets carry reference scores; its mujoco/*-v0 datasets do not."""


def full_minari_ids() -> list[str]:
    """Every Minari id a FULL page loads by default (the run groups' datasets)."""
    ids = {runs.dataset_for(task, "full") for task in runs.DATASETS}
    ids |= set(runs.MUJOCO_FULL) | set(runs.ANTMAZE_FULL)
    return sorted(spec.removeprefix("minari:") for spec in ids)


def source_dataset(dataset_id: str) -> Path:
    """The committed ``local:`` Minari folder of the body ``dataset_id`` names."""
    body = next((b for b in BODIES if b in dataset_id.lower()), None)
    if body is None:
        raise ValueError(f"no local data for {dataset_id!r}; bodies: {', '.join(BODIES)}")
    local = "antmaze-umaze" if body == "antmaze" else body
    return resolve(f"{local}-random-10k-v0") / "data"


def make_minari(root: Path, dataset_id: str) -> Path:
    """Write ``dataset_id`` under ``root`` (a ``MINARI_DATASETS_PATH``) as Minari lays it out:
    ``<root>/<id>/data/{metadata.json, main_data.hdf5}``; returns the ``data`` folder."""
    target = root / dataset_id / "data"
    shutil.copytree(source_dataset(dataset_id), target)
    meta_path = target / "metadata.json"
    meta = json.loads(meta_path.read_text()) | {"dataset_id": dataset_id}
    if dataset_id.startswith("D4RL/antmaze"):
        meta |= ANTMAZE_REFERENCE
    meta_path.write_text(json.dumps(meta))
    return target


def make_d4rl(path: Path, source: str = "hopper") -> Path:
    """Write a D4RL-layout hdf5 file at ``path`` from the ``source`` body's local episodes."""
    import h5py
    from minari import MinariDataset

    arrays: dict[str, list[np.ndarray]] = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts",
                                                              "infos/goal")}
    for ep in MinariDataset(str(source_dataset(source))).iterate_episodes():
        n, obs = len(ep.rewards), ep.observations
        if isinstance(obs, dict):
            arrays["infos/goal"].append(np.asarray(obs["desired_goal"])[:n])
            obs = np.concatenate([obs["achieved_goal"], obs["observation"]], axis=1)
        arrays["observations"].append(np.asarray(obs)[:n])
        arrays["actions"].append(np.asarray(ep.actions))
        arrays["rewards"].append(np.asarray(ep.rewards, np.float32))
        arrays["terminals"].append(np.asarray(ep.terminations, bool))
        arrays["timeouts"].append(np.asarray(ep.truncations, bool) & ~np.asarray(ep.terminations, bool))
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for key, parts in arrays.items():
            if parts:
                f.create_dataset(key, data=np.concatenate(parts))
    return path


def make_all(root: Path) -> dict[str, Path]:
    """Every FULL Minari id under ``root / "minari"`` and four D4RL files under ``root / "d4rl"``:
    ``hopper-medium-replay-v2`` (a paper dataset only D4RL has), the two parts of
    ``walker2d-medium-expert-v2`` (which the loader builds from them) and ``antmaze-large-play-v0``
    (the paper's AntMaze version). Returns the folders."""
    minari_root, d4rl_root = root / "minari", root / "d4rl"
    for dataset_id in full_minari_ids():
        make_minari(minari_root, dataset_id)
    make_d4rl(d4rl_root / "hopper-medium-replay-v2.hdf5", "hopper")
    for part in ("medium", "expert"):
        make_d4rl(d4rl_root / f"walker2d-{part}-v2.hdf5", "walker2d")
    make_d4rl(d4rl_root / "antmaze-large-play-v0.hdf5", "antmaze")
    return {"minari": minari_root, "d4rl": d4rl_root}
