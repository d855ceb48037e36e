"""seemlab.runs.online: online SAC runs (Fig 11): the arms, a clean stop at a non-finite Q, the
cache (without the device in its key), resume after a kill."""

import numpy as np
import pytest

from seemlab import runs
from seemlab.rl import sac
from seemlab.rl.soft_actor_critic import SAC

RESUMABLE = sac.SACConfig(env_id="Hopper-v5", total_steps=600, learning_starts=300, batch_size=16, width=16,
                          eval_every=250, eval_episodes=1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    return tmp_path


def assert_same_log(a: runs.SACLog, b: runs.SACLog) -> None:
    assert a.config == b.config and a.stopped_step == b.stopped_step
    for name in ("steps", "q1", "episodes", "evals"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_sac_run_stops_cleanly_at_a_nonfinite_q_and_is_cached(cache, monkeypatch):
    real, calls = SAC.update_in_order, []

    def exploding(self, batch, **kwargs):
        calls.append(1)
        metrics = real(self, batch, **kwargs)
        return {**metrics, "q1_batch": float("inf")} if len(calls) >= 8 else metrics

    monkeypatch.setattr(SAC, "update_in_order", exploding)
    cfg = sac.SACConfig(env_id="Hopper-v5", total_steps=140, learning_starts=100, batch_size=16, width=16)
    log = runs.sac_run(cfg, log_every=2)
    assert log.stopped_step == 107 and len(calls) == 8, "the run stops at the first non-finite Q1"
    assert np.isinf(log.q1[-1]) and np.isfinite(log.q1[:-1]).all() and log.steps[0] == 100
    assert log.meta["updates"] == 8
    monkeypatch.setattr(SAC, "update_in_order", real)
    again = runs.sac_run(cfg, log_every=2)
    assert again.stopped_step == 107 and np.array_equal(again.q1, log.q1), "the second call reads the cache"


def test_sac_arms_differ_only_in_target_and_norm():
    arms = runs.r_sac("quick")
    assert {a: (c.tau, c.critic_norm) for a, c in arms.items()} == {
        "EMA": (0.005, "none"), "no EMA": (1.0, "none"), "no EMA + LN": (1.0, "layer")}
    assert {c.total_steps for c in arms.values()} == {15_000} and {c.width for c in arms.values()} == {64}
    assert {c.learning_starts for c in arms.values()} == {1_000}


def test_killed_sac_run_resumes_to_the_identical_log(cache):
    """A run killed after a checkpoint (taken at an episode boundary, mid-training and between
    evaluations) ends, rerun, with the log of an uninterrupted run; the checkpoint then goes."""
    reference = runs.sac_run(RESUMABLE, log_every=10)
    assert reference.meta["resumed_from"] is None and len(reference.evals) == 2 and len(reference.q1) == 30
    for path in cache.glob("sac-*.npz"):
        path.unlink()

    def kill(step):
        if step == 520:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.sac_run(RESUMABLE, log_every=10, checkpoint_every=200, hook=kill)
    assert not list(cache.glob("sac-*.npz"))
    assert list((cache / "checkpoints").glob("sac-*.pt")), "a checkpoint must survive the kill"
    resumed = runs.sac_run(RESUMABLE, log_every=10, checkpoint_every=200)
    assert 400 <= resumed.meta["resumed_from"] < 520, "resumed from the checkpoint after step 400"
    assert_same_log(reference, resumed)
    assert not list((cache / "checkpoints").glob("*.pt"))


def test_the_device_is_not_part_of_a_sac_runs_identity(cache, monkeypatch):
    """A run cached from the CPU is what "cuda" gets, without training (training is disabled
    here), and its metadata names the device it trained on."""
    cfg = sac.SACConfig(env_id="Hopper-v5", total_steps=110, learning_starts=100, batch_size=16, width=16)
    trained = runs.sac_run(cfg, log_every=5, device="cpu")

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(sac, "train", no_training)
    found = runs.sac_run(cfg, log_every=5, device="cuda")
    assert found.meta["device"] == "cpu" and found.meta == trained.meta
    assert_same_log(trained, found)


def test_bad_checkpoint_every_is_an_error(cache):
    with pytest.raises(ValueError, match="checkpoint_every"):
        runs.sac_run(RESUMABLE, checkpoint_every=0)
