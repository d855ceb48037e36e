"""seemlab.runs: config hashing, the cache, determinism, resume after a kill, ensembles."""

import shutil

import numpy as np
import pytest
import torch

from seemlab import rl, runs
from seemlab.data import local
from seemlab.data.generate import RandomPolicyConfig, generate_random
from seemlab.diagnostics import DiagnosticsConfig
from seemlab.rl.td3 import make_trainer, preset

TD3 = preset("td3_bc", steps=30, batch_size=8, critic_width=8, actor_width=8, tau=1.0, bc_weight=0.0)
DIAG = DiagnosticsConfig(probe_size=12, every=10, dense_every=5, dense_until=10)


def cfg(seed=0, **td3):
    return runs.RunConfig(dataset="local:synthetic", seed=seed, agent=TD3.replace(**td3), diagnostics=DIAG,
                          eval_episodes=0)


def assert_same_logs(a, b):
    assert a.logs.keys() == b.logs.keys()
    for k in a.logs:
        np.testing.assert_array_equal(a.logs[k], b.logs[k], err_msg=k)


def test_hash_is_stable_and_sensitive_to_every_field(synthetic):
    assert runs.config_hash(cfg()) == runs.config_hash(cfg())
    assert runs.config_hash(cfg()) != runs.config_hash(cfg(seed=1))
    assert runs.config_hash(cfg()) != runs.config_hash(cfg(gamma=0.9))
    assert runs.config_hash(cfg()) != runs.config_hash(cfg(critic_norm="layer"))


def test_the_device_is_not_part_of_a_runs_identity(synthetic):
    """A run cached from one device is what another device gets: "cuda" here finds the CPU run
    without training (this machine has no CUDA, so training would fail), and meta names the device."""
    c = cfg()
    trained = runs.run(c, device="cpu")
    found = runs.run(c, device="cuda")
    assert found.meta["device"] == "cpu" and found.meta == trained.meta
    for k in trained.logs:
        np.testing.assert_array_equal(found.logs[k], trained.logs[k])


def test_a_format_2_td3_result_is_found_under_its_old_key(synthetic):
    """Results cached before the trainer interface (key with the device, config under "td3")
    are moved to their new key instead of being trained again."""
    c = cfg()
    result = runs.run(c)
    new = runs.run_path(c)
    old = runs._legacy_paths(c)[1]  # the CUDA key of format 2
    new.rename(old)
    again = runs.run(c, device="cuda")  # no CUDA here: only a found file can answer
    assert new.exists() and not old.exists()
    np.testing.assert_array_equal(again.logs["q_abs"], result.logs["q_abs"])


def test_hash_changes_when_a_dataset_is_regenerated_under_the_same_name(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEMLAB_DATA_DIR", str(tmp_path / "data"))
    c = cfg().replace(dataset="local:tiny-v0")
    generate_random(RandomPolicyConfig("Hopper-v5", 20, 0), name="tiny-v0")
    key, old = runs.config_hash(c), runs.load_dataset(c.dataset)
    assert runs.config_hash(c) == key
    shutil.rmtree(local.resolve("tiny-v0"))
    generate_random(RandomPolicyConfig("Hopper-v5", 20, 1), name="tiny-v0")
    assert runs.config_hash(c) != key
    new = runs.load_dataset(c.dataset)
    assert not np.array_equal(new.actions.numpy(), old.actions.numpy()), "the process reads the new data"


def test_run_is_cached_and_the_same_seed_gives_identical_logs(cache):
    first = runs.run(cfg())
    path = runs.run_path(cfg())
    assert path.exists() and list(first.logs["step"]) == [0, 5, 10, 20, 30]
    stamp = path.stat().st_mtime_ns
    assert runs.run(cfg()).logs.keys() == first.logs.keys() and path.stat().st_mtime_ns == stamp
    again = runs.run(cfg(), refresh=True)
    assert_same_logs(first, again)
    assert first.q1_model().in_dim == 6 and first.meta["n_params"] > 0


def tiny_agent(algorithm):
    """A few-step config of ``algorithm`` with tiny networks."""
    if algorithm == "td3_bc":
        return TD3
    return rl.preset(algorithm, steps=30, batch_size=8, critic_width=8, actor_width=8)


@pytest.mark.parametrize("algorithm", runs.XPCT_ALGORITHMS)
def test_killed_run_resumes_to_identical_results(cache, algorithm):
    """Every algorithm on the trainer interface: cached, SEEM logged on its Q1, and a run killed
    after its checkpoint ends with the numbers of an uninterrupted run."""
    c = cfg(seed=2).replace(agent=tiny_agent(algorithm))
    reference = runs.run(c)
    assert np.isfinite(reference.logs["seem_norm"]).all() and reference.config["agent"]["algorithm"] == algorithm
    runs.run_path(c).unlink()

    def kill(step):
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.train_group([c], checkpoint_every=10, hook=kill)
    assert not runs.run_path(c).exists()
    assert list((cache / "checkpoints").glob("*.pt")), "a checkpoint must survive the kill"
    resumed = runs.run(c)
    assert_same_logs(reference, resumed)
    for k in reference.q1_final:
        np.testing.assert_array_equal(reference.q1_final[k], resumed.q1_final[k])
    assert not list((cache / "checkpoints").glob("*.pt"))
    assert resumed.q1_model().in_dim == 6


@pytest.mark.parametrize("algorithm", runs.XPCT_ALGORITHMS)
def test_x_percent_subsets_are_the_same_for_every_algorithm(algorithm):
    """R-XPCT's fraction subset depends on the dataset and X only (the paper: "the same subset
    across all algorithms"): the run layer loads it from those two fields."""
    ours = runs.r_xpct("smoke", "local:hopper-random-10k-v0", 0.01, 0, algorithm)
    td3 = runs.r_xpct("smoke", "local:hopper-random-10k-v0", 0.01, 0, "td3_bc")
    a = runs.load_dataset(ours.dataset, ours.fraction, ours.normalize_states)
    b = runs.load_dataset(td3.dataset, td3.fraction, td3.normalize_states)
    assert len(a) == 100 and torch.equal(a.observations, b.observations) and torch.equal(a.actions, b.actions)


def test_ensemble_of_seeds_and_gammas_matches_single_runs(cache):
    group = [cfg(seed=0), cfg(seed=1), cfg(seed=1, gamma=0.5)]
    together = runs.run_many(group)
    for c, res in zip(group, together):
        alone = runs.run(c, refresh=True)
        np.testing.assert_allclose(res.logs["q_data"], alone.logs["q_data"], rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(res.logs["param_norm"], alone.logs["param_norm"], rtol=1e-4)
    assert together[0].meta["group_seeds"] == [0, 1, 1]


def test_bad_run_config_raises(cache):
    with pytest.raises(ValueError, match="fraction"):
        runs.run(cfg().replace(fraction=0.0))
    with pytest.raises(ValueError, match="data source"):
        runs.run(cfg().replace(dataset="hopper"))
    with pytest.raises(ValueError, match="tau"):
        cfg(tau=2.0)


def test_run_groups_at_every_profile():
    for profile in ("smoke", "quick", "full"):
        assert len(runs.r_gamma(profile)) == len(runs.GAMMAS[profile])
        assert set(runs.r_reg(profile)) == set(runs.REG_ARMS)
    quick = runs.r_seem("hopper", 0, "quick")
    assert quick.agent.tau == 1.0 and quick.agent.bc_weight == 0 and quick.agent.critic_width == 64
    assert runs.r_reg("quick")["none"] == runs.r_seem("walker2d", 0, "quick")
    assert runs.r_gamma("quick")[-1] == quick
    with pytest.raises(ValueError, match="arms"):
        runs.r_reg("quick", arms=["LN", "GN"])


def test_ddpg_ablation_adds_one_ingredient_per_arm():
    arms = runs.r_ddpg_abl("quick", "local:hopper-random-10k-v0", 0.1)
    cfgs = [c.agent for c in arms.values()]
    assert list(arms) == list(runs.DDPG_ARMS) and all(c.fraction == 0.1 for c in arms.values())
    assert [c.tau for c in cfgs] == [1.0, 0.005, 0.005, 0.005]
    assert [c.double_q for c in cfgs] == [False, False, True, True]
    assert [c.critic_norm for c in cfgs] == ["none", "none", "none", "layer"]
    assert all(not c.target_smoothing and c.policy_freq == 1 and c.bc_weight == 1.0 for c in cfgs)


def test_norm10_arms_are_td3_bc_on_ten_percent():
    arms = runs.r_norm10("full", "minari:mujoco/hopper/medium-v0")
    assert {a: (c.agent.critic_norm, c.agent.out_weight_norm) for a, c in arms.items()} == {
        "none": ("none", False), "LN": ("layer", False), "BN": ("batch", False), "WN": ("none", True)}
    assert all(c.fraction == 0.1 and c.agent.tau == 0.005 and c.agent.steps == 1_000_000 for c in arms.values())


def test_evaluate_flattens_dict_observations_of_antmaze():
    data = runs.load_dataset("local:antmaze-umaze-random-10k-v0")
    agent = make_trainer(preset("td3_bc", critic_width=8, actor_width=8), data, [0])
    out = runs.evaluate(agent, 0, data, episodes=1, seed=0)
    assert out["episodes"] == 1 and np.isfinite(out["mean_return"]) and np.isfinite(out["normalized"])


def test_max_abs_q_counts_a_nonfinite_log_as_unbounded():
    log = runs.SACLog({}, np.arange(3.0), np.array([1.0, -7.0, 2.0]), np.zeros((0, 2)), None)
    assert log.max_abs_q == 7.0
    assert runs.SACLog({}, np.arange(2.0), np.array([1.0, np.nan]), np.zeros((0, 2)), 1).max_abs_q == np.inf


def test_r_seem_grid_runs_halfcheetah_on_one_seed_at_quick():
    grid = runs.r_seem_grid("quick", 5, 3, ("hopper", "halfcheetah"))
    assert list(grid) == [("hopper", 5), ("hopper", 6), ("hopper", 7), ("halfcheetah", 5)]
    assert grid["hopper", 6] == runs.r_seem("hopper", 6, "quick")
    assert len(runs.r_seem_grid("full", 0, 3, ("halfcheetah",))) == 3
