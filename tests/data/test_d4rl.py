import h5py
import numpy as np
import pytest

from seemlab.data import DataNotFoundError, content_id, load


def write_d4rl(path, n=40, d_s=3, d_a=2, seed=0, nan=False, drop=None):
    """A tiny hdf5 in D4RL's layout: episodes of 10 steps, the 2nd ends in a terminal,
    the others in a timeout."""
    rng = np.random.default_rng(seed)
    arrays = {
        "observations": rng.normal(size=(n, d_s)).astype(np.float32),
        "actions": rng.uniform(-1, 1, (n, d_a)).astype(np.float32),
        "rewards": rng.normal(size=n).astype(np.float32),
        "terminals": np.zeros(n, bool), "timeouts": np.zeros(n, bool)}
    arrays["terminals"][19] = True
    arrays["timeouts"][[9, 29, 39]] = True
    if nan:
        arrays["observations"][5, 1] = np.nan
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            if key != drop:
                f.create_dataset(key, data=value)
        f.create_group("metadata").attrs["algorithm"] = "test"
    return arrays


def test_qlearning_semantics_and_reference(tmp_path):
    path = tmp_path / "hopper-medium-v2.hdf5"
    arrays = write_d4rl(path)
    data = load(f"d4rl:{path}", normalize_states=False)
    keep = [i for i in range(39) if i not in (9, 29)]  # drop timeouts and the last row
    assert len(data) == len(keep) == 37
    assert np.allclose(data.observations.numpy(), arrays["observations"][keep])
    assert np.allclose(data.next_observations.numpy(), arrays["observations"][np.add(keep, 1)])
    assert data.terminals.sum() == 1
    # the rows before each dropped timeout row (9, 29 and the last, 39) end their episodes
    assert [keep[i] for i in np.flatnonzero(data.timeouts.numpy())] == [8, 28, 38]
    assert data.reference.min == -20.272305 and "D4RL" in data.reference.source
    assert data.env_id == "Hopper-v5"
    assert data.action_low.tolist() == [-1, -1] and data.action_high.tolist() == [1, 1]


def test_medium_expert_is_medium_then_expert(tmp_path):
    med = write_d4rl(tmp_path / "walker2d-medium-v2.hdf5", seed=1)
    write_d4rl(tmp_path / "walker2d-expert-v2.hdf5", seed=2)
    data = load(f"d4rl:{tmp_path / 'walker2d-medium-expert-v2.hdf5'}", normalize_states=False)
    assert len(data) == 74
    assert np.allclose(data.observations[0].numpy(), med["observations"][0])
    assert "⊕" in data.info["source"]


def test_subset_key_ignores_the_folder(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        write_d4rl(tmp_path / sub / "hopper-medium-v2.hdf5")
    a = load(f"d4rl:{tmp_path / 'a' / 'hopper-medium-v2.hdf5'}", fraction=0.5)
    b = load(f"d4rl:{tmp_path / 'b' / 'hopper-medium-v2.hdf5'}", fraction=0.5)
    assert len(a) == 19 and a.observations.equal(b.observations)


def test_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError, match="not found"):
        load(f"d4rl:{tmp_path / 'hopper-medium-v2.hdf5'}")
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError ...
        load(f"d4rl:{tmp_path / 'hopper-medium-expert-v2.hdf5'}")
    with pytest.raises(ValueError):  # ... and a ValueError, for the CLI
        load(f"d4rl:{tmp_path / 'x-v2.hdf5'}")


def test_wrong_layout_lists_required_keys(tmp_path):
    path = tmp_path / "hopper-medium-v2.hdf5"
    write_d4rl(path, drop="timeouts")
    with pytest.raises(ValueError, match=r"not in D4RL's layout.*'timeouts'"):
        load(f"d4rl:{path}")
    bad = tmp_path / "hopper-random-v2.hdf5"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable hdf5"):
        load(f"d4rl:{bad}")


def test_nan_is_an_error(tmp_path):
    path = tmp_path / "hopper-medium-v2.hdf5"
    write_d4rl(path, nan=True)
    with pytest.raises(ValueError, match="'observations' has 1 non-finite"):
        load(f"d4rl:{path}")


def test_unknown_task_family(tmp_path):
    path = tmp_path / "mydata.hdf5"
    write_d4rl(path)
    with pytest.raises(ValueError, match="task family"):
        load(f"d4rl:{path}")


def test_content_id_follows_the_file_not_its_name(tmp_path):
    path = tmp_path / "walker2d-medium-v2.hdf5"
    write_d4rl(path, seed=1)
    first = content_id(f"d4rl:{path}")
    assert content_id(f"d4rl:{path}") == first
    write_d4rl(path, seed=3)  # same name, other transitions
    assert content_id(f"d4rl:{path}") != first
    write_d4rl(tmp_path / "walker2d-expert-v2.hdf5", seed=2)
    both = content_id(f"d4rl:{tmp_path / 'walker2d-medium-expert-v2.hdf5'}")
    assert both.split("+") == [content_id(f"d4rl:{path}"), content_id(f"d4rl:{tmp_path / 'walker2d-expert-v2.hdf5'}")]
    with pytest.raises(DataNotFoundError):
        content_id(f"d4rl:{tmp_path / 'hopper-medium-v2.hdf5'}")
    assert content_id("minari:mujoco/hopper/medium-v0") == "minari:mujoco/hopper/medium-v0"
