import dataclasses

import numpy as np
import pytest
import torch

from seemlab.data.dataset import (STATE_STD_EPS, Batch, build, concat, content_sha256,
                                  subset_indices, subset_seed_for, subset_size)


def test_build_shapes_dtypes_and_normalization(raw):
    data = build(raw(50, 3, 2), name="t", key="t")
    n = 50
    assert data.observations.shape == (n, 3) and data.next_observations.shape == (n, 3)
    assert data.actions.shape == (n, 2)
    for t in (data.rewards, data.terminals, data.timeouts):
        assert t.shape == (n,) and t.dtype == torch.float32
    assert data.observations.dtype == torch.float32
    assert torch.allclose(data.observations.mean(0), torch.zeros(3), atol=1e-5)
    raw_std = raw(50, 3, 2).observations.std(0)
    assert np.allclose(data.obs_std.numpy(), raw_std + STATE_STD_EPS, rtol=1e-5)
    # normalize_obs maps raw env states exactly as the dataset's states were mapped
    raw_obs = raw(50, 3, 2).observations
    assert torch.allclose(data.normalize_obs(raw_obs), data.observations, atol=1e-5)


def test_no_normalization_keeps_states_and_identity_stats(raw):
    data_raw = raw()
    data = build(data_raw, name="t", key="t", normalize_states=False)
    assert torch.equal(data.obs_mean, torch.zeros(3)) and torch.equal(data.obs_std, torch.ones(3))
    assert np.allclose(data.observations.numpy(), data_raw.observations.astype(np.float32))


@pytest.mark.parametrize("fraction", [0, 0.0, 1.5, -0.1, float("nan"), "0.5", True])
def test_bad_fraction_is_an_error(fraction, raw):
    with pytest.raises(ValueError, match="fraction"):
        build(raw(), name="t", key="t", fraction=fraction)


@pytest.mark.parametrize("n, fraction, size", [(1000, 0.01, 10), (1000, 0.1, 100),
                                               (1000, 0.5, 500), (1000, 1.0, 1000),
                                               (7, 0.5, 4), (10, 0.01, 1)])
def test_subset_sizes_are_exact(n, fraction, size):
    assert subset_size(n, fraction) == size
    idx = subset_indices(n, fraction, key="x")
    assert idx.shape == (size,) and len(np.unique(idx)) == size
    assert np.all(np.diff(idx) > 0)


def test_subset_is_deterministic_and_shared():
    a = subset_indices(1000, 0.1, key="minari:mujoco/hopper/medium-v0")
    b = subset_indices(1000, 0.1, key="minari:mujoco/hopper/medium-v0")
    assert np.array_equal(a, b)
    other = subset_indices(1000, 0.1, key="minari:mujoco/walker2d/medium-v0")
    assert not np.array_equal(a, other)
    assert not np.array_equal(a, subset_indices(1000, 0.1, key="minari:mujoco/hopper/medium-v0",
                                                subset_seed=1))
    # SHA-256, not Python's salted hash(): a fixed value on every machine
    assert subset_seed_for("local:x", 0.1) == subset_seed_for("local:x", 0.1)
    assert subset_seed_for("local:x", 0.1) == 4442964705964656895  # sha256(b"local:x|0.1")[:8]


def test_subset_dataset_takes_those_rows(raw):
    data_raw = raw(100)
    data = build(data_raw, name="t", key="k", fraction=0.1, normalize_states=False)
    idx = subset_indices(100, 0.1, key="k")
    assert len(data) == 10 and data.info["full_size"] == 100
    assert np.allclose(data.rewards.numpy(), data_raw.rewards[idx].astype(np.float32))


def test_nan_is_an_error_naming_the_field(raw):
    data_raw = raw()
    rewards = data_raw.rewards.copy()
    rewards[7] = np.nan
    with pytest.raises(ValueError, match="'rewards' has 1 non-finite.*transition 7"):
        build(dataclasses.replace(data_raw, rewards=rewards), name="t", key="t")


def test_missing_or_bad_action_bounds_are_errors(raw):
    with pytest.raises(ValueError, match="no action bounds"):
        build(dataclasses.replace(raw(), action_low=None), name="t", key="t")
    with pytest.raises(ValueError, match="low < high"):
        build(dataclasses.replace(raw(), action_high=-np.ones(2)), name="t", key="t")


def test_mismatched_lengths_are_an_error(raw):
    data_raw = raw()
    with pytest.raises(ValueError, match="'actions' has 49 rows"):
        build(dataclasses.replace(data_raw, actions=data_raw.actions[:-1]), name="t", key="t")


def test_sample_is_seeded_and_shaped(raw):
    data = build(raw(), name="t", key="t")
    b1 = data.sample(8, torch.Generator().manual_seed(3))
    b2 = data.sample(8, torch.Generator().manual_seed(3))
    assert isinstance(b1, Batch)
    assert b1.observations.shape == (8, 3) and b1.actions.shape == (8, 2)
    assert b1.rewards.shape == b1.terminals.shape == (8,)
    assert all(torch.equal(x, y) for x, y in zip(b1, b2))


def test_to_moves_every_tensor_and_keeps_metadata(raw):
    data = build(raw(), name="t", key="t")
    moved = data.to("cpu")
    assert moved is not data and moved.name == data.name and moved.device.type == "cpu"
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "x"


def test_concat_and_content_hash(raw):
    a, b = raw(20, seed=0), raw(30, seed=1)
    both = concat([a, b], source="a+b")
    assert both.observations.shape == (50, 3) and both.source == "a+b"
    assert content_sha256(a) == content_sha256(raw(20, seed=0))
    assert content_sha256(a) != content_sha256(b)
    with pytest.raises(ValueError, match="shapes differ"):
        concat([a, raw(20, d_s=4)], source="x")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cpu_generator_gives_the_same_batch_on_gpu(raw):
    data = build(raw(), name="t", key="t")
    gpu = data.to("cuda")
    b_cpu = data.sample(8, torch.Generator().manual_seed(0))
    b_gpu = gpu.sample(8, torch.Generator().manual_seed(0))
    assert b_gpu.observations.device.type == "cuda"
    assert torch.equal(b_gpu.observations.cpu(), b_cpu.observations)
