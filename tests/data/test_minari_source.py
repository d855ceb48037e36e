import sys
import time
import types

import gymnasium as gym
import numpy as np
import pytest

from seemlab.data import DataNotFoundError, load
from seemlab.data import minari_source


def write_minari(dataset_id, episodes=3, steps=5, d_s=3, d_a=2, dict_obs=False, seed=0,
                 ref=None):
    """A tiny dataset written by Minari's own writer into $MINARI_DATASETS_PATH."""
    import minari
    from minari.data_collector import EpisodeBuffer

    rng = np.random.default_rng(seed)
    box = gym.spaces.Box(-np.inf, np.inf, (d_s,), np.float32)
    obs_space = gym.spaces.Dict({"observation": box, "achieved_goal": gym.spaces.Box(
        -np.inf, np.inf, (2,), np.float32), "desired_goal": gym.spaces.Box(
        -np.inf, np.inf, (2,), np.float32)}) if dict_obs else box
    buffers = []
    for i in range(episodes):
        obs = rng.normal(size=(steps + 1, d_s)).astype(np.float32)
        if dict_obs:
            obs = {"observation": obs, "achieved_goal": np.zeros((steps + 1, 2), np.float32),
                   "desired_goal": np.full((steps + 1, 2), i, np.float32)}
        term = np.zeros(steps, bool)
        term[-1] = i == 0
        buffers.append(EpisodeBuffer(
            id=i, observations=obs, actions=rng.uniform(-1, 1, (steps, d_a)).astype(np.float32),
            rewards=rng.normal(size=steps), terminations=term, truncations=~term & (
                np.arange(steps) == steps - 1)))
    with pytest.warns(UserWarning):
        ds = minari.create_dataset_from_buffers(
            dataset_id, buffers, observation_space=obs_space,
            action_space=gym.spaces.Box(-1, 1, (d_a,), np.float32))
    if ref is not None:
        ds.storage.update_metadata({"ref_min_score": ref[0], "ref_max_score": ref[1]})
    return buffers


def test_minari_transitions_and_bounds(data_dir):
    buffers = write_minari("tiny-test-v0", episodes=3, steps=5)
    data = load("minari:tiny-test-v0", normalize_states=False)
    assert len(data) == 15 and data.obs_dim == 3 and data.action_dim == 2
    first = buffers[0].observations
    assert np.allclose(data.observations[:5].numpy(), first[:-1])
    assert np.allclose(data.next_observations[:5].numpy(), first[1:])
    assert data.terminals.tolist()[:5] == [0, 0, 0, 0, 1]
    assert data.timeouts.sum() == 2 and data.reference is None
    assert data.action_low.tolist() == [-1, -1]


def test_dict_observations_become_observation_position_and_goal(data_dir):
    write_minari("tiny-maze-v0", dict_obs=True, ref=(0.0, 1.0))
    data = load("minari:tiny-maze-v0", normalize_states=False)
    assert data.obs_dim == 3 + 2 + 2  # observation ⊕ achieved_goal (the x, y) ⊕ desired_goal
    assert data.observations[5:10, 3:5].eq(0.0).all() and data.observations[5:10, 5:].eq(1.0).all()
    assert data.reference.max == 1.0 and "Minari" in data.reference.source
    assert data.score([0.5]).normalized == 50.0


def test_medium_expert_from_minari_parts(data_dir):
    write_minari("body/medium-v0", episodes=2, seed=1)
    write_minari("body/expert-v0", episodes=3, seed=2)
    data = load("minari:body/medium-expert-v0")
    assert len(data) == 25 and "⊕" in data.info["source"]


def test_offline_error_is_fast_and_says_how(data_dir):
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError) as err:
        load("minari:mujoco/hopper/medium-v0")
    assert time.perf_counter() - start < 5.0
    message = str(err.value)
    assert "minari download mujoco/hopper/medium-v0" in message
    assert "HF_HUB_OFFLINE" in message and "MINARI_DATASETS_PATH" in message


def test_unreachable_hub_fails_within_a_second(data_dir, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(minari_source, "HUB_HOST", ("hub.invalid", 443))
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.ModuleType("huggingface_hub"))
    assert minari_source.hub_reachable() is False
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match="unreachable"):
        minari_source.download("mujoco/hopper/medium-v0")
    assert time.perf_counter() - start < 2.0


def test_without_hub_client_fails_at_once(data_dir, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import raises ImportError
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match="huggingface_hub is not installed"):
        minari_source.download("mujoco/hopper/medium-v0")
    assert time.perf_counter() - start < 1.0


def test_unknown_source_prefix():
    for spec in ("foo:bar", "hopper-medium-v2"):  # "minari:" (no id): tests/faults/test_bad_input.py
        with pytest.raises(ValueError, match="unknown data source.*minari:.*d4rl:.*local:"):
            load(spec)
