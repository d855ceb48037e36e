"""A write that fails midway (disk full) leaves no partial file and keeps the previous good one."""

from __future__ import annotations

import errno

import pytest

from seemlab import runs
from seemlab.data import local
from seemlab import files as files_mod

from .conftest import assert_identical, tiny_cfg
from .test_corrupt_files import dataset  # noqa: F401 (fixture)
from .test_kills import FullDisk

NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_writing_a_result_keeps_the_cached_one(cache, monkeypatch):
    first = runs.run(tiny_cfg())
    path = runs.run_path(tiny_cfg())
    good = path.read_bytes()
    monkeypatch.setattr(files_mod, "open", FullDisk(NO_SPACE), raising=False)
    with pytest.raises(OSError, match="No space left on device") as raised:
        runs.run(tiny_cfg(), refresh=True)
    assert f"could not write {path}" in str(raised.value) and "previous file" in str(raised.value)
    assert raised.value.errno == errno.ENOSPC
    assert path.read_bytes() == good and not list(path.parent.glob(".*.tmp"))
    monkeypatch.delattr(files_mod, "open")
    assert_identical(first, runs.run(tiny_cfg()))


def test_disk_full_on_a_first_result_leaves_nothing(cache, monkeypatch):
    monkeypatch.setattr(files_mod, "open", FullDisk(NO_SPACE, when=lambda p: "/runs/" in p), raising=False)
    with pytest.raises(OSError, match="could not write"):
        runs.run(tiny_cfg())
    assert not list((cache / "runs").iterdir()), "no partial or temporary file"


def test_disk_full_while_writing_a_data_card_keeps_the_old_card(dataset, monkeypatch):  # noqa: F811
    card, path = local.read_card(dataset), dataset / local.CARD
    good = path.read_bytes()
    monkeypatch.setattr(files_mod, "open", FullDisk(NO_SPACE), raising=False)
    with pytest.raises(OSError, match=f"could not write {path}"):
        local.write_card(dataset, {**card, "note": "new"})
    assert path.read_bytes() == good and [p.name for p in dataset.iterdir() if p.name.startswith(".")] == []
