"""Truncated, zeroed and random-byte cache files: moved aside with one warning, then redone."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
import torch

from seemlab import runs
from seemlab.data import local
from seemlab.runs.cache import CacheWarning

from .conftest import DAMAGES, EVERY, assert_identical, moved_aside, one_line, tiny_cfg


@pytest.mark.parametrize("damage", DAMAGES)
def test_bad_result_is_moved_aside_and_rerun(cache, damage):
    # one at a time: the rerun trains seed 0 alone, and an ensemble's numbers equal a lone run's only to
    # float rounding (which rounding depends on the CPU's kernels)
    first, other = runs.run_many([tiny_cfg(seed=0), tiny_cfg(seed=1)], ensemble=False)
    path, other_path = runs.run_path(tiny_cfg(seed=0)), runs.run_path(tiny_cfg(seed=1))
    other_bytes = other_path.read_bytes()
    damage(path)
    bad = path.read_bytes()
    with pytest.warns(CacheWarning) as caught:
        again = runs.run(tiny_cfg(seed=0))
    [aside] = moved_aside(path.parent, path.name)
    assert [one_line(w) for w in caught] == [one_line(caught[0])]
    assert str(path) in str(caught[0].message) and aside.name in str(caught[0].message)
    assert aside.read_bytes() == bad, "the bad file is kept for inspection"
    assert_identical(first, again)
    assert other_path.read_bytes() == other_bytes and runs.run(tiny_cfg(seed=1)).logs.keys() == other.logs.keys()


def test_load_result_of_a_bad_file_names_it(cache):
    runs.run(tiny_cfg())
    path = runs.run_path(tiny_cfg())
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CacheWarning), pytest.raises(runs.CorruptFileError, match=str(path)):
        runs.load_result(path)
    with pytest.raises(FileNotFoundError, match=str(path)):
        runs.load_result(path)


def test_result_without_checksum_is_still_read(cache):
    """Results cached before checksums existed keep their key and are read as they are."""
    first = runs.run(tiny_cfg())
    path = runs.run_path(tiny_cfg())
    path.write_bytes(runs.read_checked(path))  # strip the header: the old format
    assert not path.read_bytes().startswith(runs.cache.MAGIC)
    stamp = path.stat().st_mtime_ns
    assert_identical(first, runs.run(tiny_cfg()))
    assert path.stat().st_mtime_ns == stamp, "not retrained"


def _killed_with_checkpoint(cache, seed):
    reference = runs.run(tiny_cfg(seed=seed), checkpoint_every=EVERY)
    runs.run_path(tiny_cfg(seed=seed)).unlink()

    def kill(step):
        if step == 25:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        runs.train_group([tiny_cfg(seed=seed)], checkpoint_every=EVERY, hook=kill)
    [ckpt] = (cache / "checkpoints").glob("*.pt")
    return reference, ckpt


@pytest.mark.parametrize("damage", DAMAGES)
def test_bad_checkpoint_is_moved_aside_and_the_run_starts_over(cache, damage):
    reference, ckpt = _killed_with_checkpoint(cache, seed=5)
    damage(ckpt)
    with pytest.warns(CacheWarning, match="moved aside") as caught:
        resumed = runs.run(tiny_cfg(seed=5), checkpoint_every=EVERY)
    assert str(ckpt) in one_line(caught[0]) and len(moved_aside(ckpt.parent, ckpt.name)) == 1
    assert_identical(reference, resumed)


class _RunsCode:
    """A pickle that would create a file when unpickled with weights_only=False."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_checkpoint_that_would_run_code_is_refused(cache, tmp_path):
    reference, ckpt = _killed_with_checkpoint(cache, seed=6)
    marker = tmp_path / "code-ran"
    torch.save({"agent": _RunsCode(marker)}, ckpt)  # an old-style (pickled) checkpoint, crafted
    with pytest.warns(CacheWarning, match="does not parse"):
        resumed = runs.run(tiny_cfg(seed=6), checkpoint_every=EVERY)
    assert not marker.exists(), "loading a checkpoint ran code"
    assert_identical(reference, resumed)


def test_checkpoint_holds_only_what_the_weights_only_loader_accepts(cache):
    _, ckpt = _killed_with_checkpoint(cache, seed=7)
    state = torch.load(io.BytesIO(runs.read_checked(ckpt)), weights_only=True)
    assert state["agent"]["step"] == 20
    restored = runs._parse_checkpoint(runs.read_checked(ckpt))
    assert all(isinstance(v, np.ndarray) for v in restored["q1_init"][0].values())
    buffer = io.BytesIO()
    torch.save({"q1_init": restored["q1_init"]}, buffer)  # the old format: numpy arrays as pickled objects
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)


@pytest.mark.parametrize("damage", DAMAGES)
def test_bad_sac_result_is_moved_aside_and_rerun(tmp_path, monkeypatch, damage):
    from seemlab.rl.sac import SACConfig

    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    cfg = SACConfig(env_id="Hopper-v5", total_steps=120, learning_starts=100, batch_size=16, width=16)
    first = runs.sac_run(cfg, log_every=5)
    [path] = tmp_path.glob("sac-*.npz")
    damage(path)
    with pytest.warns(CacheWarning, match="moved aside"):
        again = runs.sac_run(cfg, log_every=5)
    assert len(moved_aside(tmp_path, path.name)) == 1
    np.testing.assert_array_equal(first.q1, again.q1)
    np.testing.assert_array_equal(first.episodes, again.episodes)


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """A 20-transition local dataset in a fresh data folder."""
    from seemlab.data.generate import RandomPolicyConfig, generate_random

    monkeypatch.setenv("SEEMLAB_DATA_DIR", str(tmp_path / "data"))
    generate_random(RandomPolicyConfig("Hopper-v5", 20, 0), name="tiny-v0")
    return local.resolve("tiny-v0")


@pytest.mark.parametrize("damage", DAMAGES)
def test_bad_data_card_is_moved_aside_and_the_data_still_loads(dataset, damage):
    card = local.read_card(dataset)
    path = dataset / local.CARD
    assert path.read_bytes().startswith(runs.cache.MAGIC) and card["sha256"]
    damage(path)
    with pytest.warns(CacheWarning, match="moved aside") as caught:
        assert local.read_card(dataset) == {}
    assert str(path) in one_line(caught[0])
    assert len(moved_aside(dataset, local.CARD)) == 1
    assert len(local.load_local("tiny-v0").rewards) == 20, "the data itself is untouched"


def test_plain_json_card_is_still_read(dataset):
    """Cards written before checksums (the committed ones) are plain JSON."""
    path = dataset / local.CARD
    card = local.read_card(dataset)
    path.write_text(json.dumps(card))
    assert local.read_card(dataset) == card
