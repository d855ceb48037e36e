"""A run killed at any step, or while writing its checkpoint, resumes to the uninterrupted result."""

from __future__ import annotations

import pytest

from seemlab import runs
from seemlab import files as files_mod

from .conftest import EVERY, TD3, assert_identical, tiny_cfg


class Killed(Exception):
    """Stands for a kill: raised from inside the run."""


def kill_at(at: int):
    def hook(step: int) -> None:
        if step == at:
            raise Killed(f"killed at step {at}")
    return hook


def checkpoints(cache):
    return sorted((cache / "checkpoints").glob("*.pt"))


def checkpoint_step(path) -> int:
    return int(runs._parse_checkpoint(runs.read_checked(path))["agent"]["step"])


KILL_STEPS = (0, 1, 5, EVERY - 1, EVERY, EVERY + 1, 15, 2 * EVERY - 1, 2 * EVERY, 2 * EVERY + 1, TD3.steps - 1,
              TD3.steps)
"""Step 0 (before any checkpoint), mid-interval, either side of each checkpoint, the last steps."""


@pytest.mark.parametrize("at", KILL_STEPS)
def test_kill_at_any_step_resumes_bit_for_bit(cache, at):
    """No duplicated log row, the same logs and weights as a run never killed."""
    reference = runs.run(tiny_cfg(seed=2), checkpoint_every=EVERY)
    runs.run_path(tiny_cfg(seed=2)).unlink()
    with pytest.raises(Killed):
        runs.train_group([tiny_cfg(seed=2)], checkpoint_every=EVERY, hook=kill_at(at))
    left = checkpoints(cache)
    expected = (min(at, TD3.steps - 1) // EVERY) * EVERY  # the last checkpoint written before the kill
    assert [checkpoint_step(p) for p in left] == ([expected] if expected else []), "no checkpoint at step 0"
    resumed = runs.run(tiny_cfg(seed=2), checkpoint_every=EVERY)
    assert_identical(reference, resumed)
    assert list(resumed.logs["step"]) == [0, 5, 10, 20, 30]
    assert not checkpoints(cache), "a finished run removes its checkpoint"


class FullDisk:
    """``open`` for the cache module whose files take half the bytes asked, then fail."""

    def __init__(self, error: BaseException, when=lambda path: True):
        self.error, self.when = error, when

    def __call__(self, path, mode="r", *args, **kwargs):
        f = open(path, mode, *args, **kwargs)
        if "w" not in mode or not self.when(str(path)):
            return f
        error, write = self.error, f.write

        def half_then_fail(data):
            write(data[: len(data) // 2])
            f.flush()
            raise error
        f.write = half_then_fail
        return f


@pytest.mark.parametrize("error", [Killed("killed mid-write"), OSError(28, "No space left on device")],
                         ids=["kill", "disk-full"])
def test_failure_while_writing_a_checkpoint_keeps_the_previous_one(cache, monkeypatch, error):
    reference = runs.run(tiny_cfg(seed=3), checkpoint_every=EVERY)
    runs.run_path(tiny_cfg(seed=3)).unlink()
    real_save, saves = runs._save_checkpoint, []

    def second_save_fails(*args, **kwargs):
        saves.append(1)
        if len(saves) == 2:  # the step-20 checkpoint, with the step-10 one on disk
            monkeypatch.setattr(files_mod, "open", FullDisk(error), raising=False)
        real_save(*args, **kwargs)

    monkeypatch.setattr(runs, "_save_checkpoint", second_save_fails)
    with pytest.raises(type(error)) as raised:
        runs.train_group([tiny_cfg(seed=3)], checkpoint_every=EVERY)
    if isinstance(error, OSError):
        assert "could not write" in str(raised.value) and "checkpoints" in str(raised.value)
        assert "No space left on device" in str(raised.value)
    monkeypatch.undo()
    monkeypatch.setenv(runs.CACHE_ENV, str(cache))
    _same_dataset(monkeypatch)
    [left] = checkpoints(cache)
    assert checkpoint_step(left) == 10 and not list((cache / "checkpoints").glob(".*.tmp"))
    assert_identical(reference, runs.run(tiny_cfg(seed=3), checkpoint_every=EVERY))


def _same_dataset(monkeypatch):
    from synthetic import tiny_dataset

    monkeypatch.setattr(runs, "load_dataset", lambda spec, fraction=1.0, normalize=True: tiny_dataset())
    monkeypatch.setattr(runs, "dataset_id", lambda spec: f"content of {spec}")


def test_refresh_never_reads_the_checkpoint(cache, monkeypatch):
    reference = runs.run(tiny_cfg(seed=4), checkpoint_every=EVERY)
    with pytest.raises(Killed):
        runs.train_group([tiny_cfg(seed=4)], checkpoint_every=EVERY, refresh=True, hook=kill_at(25))
    assert checkpoints(cache)

    def must_not_load(payload):
        raise AssertionError("refresh resumed from a checkpoint")

    monkeypatch.setattr(runs, "_parse_checkpoint", must_not_load)
    assert_identical(reference, runs.run(tiny_cfg(seed=4), checkpoint_every=EVERY, refresh=True))
