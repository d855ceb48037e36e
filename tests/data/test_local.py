import time
from pathlib import Path

import pytest

from seemlab.data import DataNotFoundError, load, local
from seemlab.data.generate import verify

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
COMMITTED = ["hopper-random-10k-v0", "walker2d-random-10k-v0", "halfcheetah-random-10k-v0",
             "antmaze-umaze-random-10k-v0"]
DIMS = {"hopper": (11, 3), "walker2d": (17, 6), "halfcheetah": (17, 6), "antmaze": (31, 8)}


def test_data_root_follows_env(data_dir):
    assert local.data_root() == data_dir and local.local_root() == data_dir / "local"
    assert local.names() == []


def test_missing_local_dataset_lists_what_exists(data_dir):
    with pytest.raises(DataNotFoundError, match="seemlab data generate"):
        load("local:nope-v0")


def test_committed_datasets_are_all_there():
    assert set(COMMITTED) <= set(local.names(REPO_DATA))
    total = sum(p.stat().st_size for p in (REPO_DATA / "local").rglob("*") if p.is_file())
    assert total <= 25e6


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_dataset_loads_fast_and_matches_card(name, monkeypatch):
    monkeypatch.setenv("SEEMLAB_DATA_DIR", str(REPO_DATA))
    load(f"local:{COMMITTED[2]}")  # warm imports (torch, minari, h5py)
    start = time.perf_counter()
    data = load(f"local:{name}")
    assert time.perf_counter() - start < 2.0
    card = local.read_card(REPO_DATA / "local" / name)
    assert len(data) == card["size"]["transitions"] == 10_000
    assert (data.obs_dim, data.action_dim) == DIMS[name.split("-")[0]]
    assert data.env_id == card["env_id"] and data.reference is None
    assert verify(REPO_DATA / "local" / name) == {"files_sha256": True, "sha256": True}


def test_version_suffix_is_optional(monkeypatch):
    monkeypatch.setenv("SEEMLAB_DATA_DIR", str(REPO_DATA))
    assert local.resolve("hopper-random-10k").name == "hopper-random-10k-v0"
    a = load("local:hopper-random-10k", fraction=0.1)
    b = load("local:hopper-random-10k-v0", fraction=0.1)
    assert len(a) == 1000 and a.observations.equal(b.observations)
