"""`seemlab sweep`: the grid (the one `seemlab run` builds), the dry run's arithmetic, bad input,
and, marked ``ray`` (run with ``pytest -m ray`` after ``pip install -e .[sweep]``), sweeps on a
local Ray: the same cache entries as `seemlab run`, a rerun that trains nothing, retries that
resume from the checkpoint the driver holds."""

import json
import re
import sys

import numpy as np
import pytest

from seemlab import cli, run_cli, runs, sweep


def parse(command: str, *argv: str):
    parser = cli.argparse.ArgumentParser()
    sub = parser.add_subparsers()
    run_cli.add_parser(sub)
    sweep.add_parser(sub)
    return parser.parse_args([command, *argv])


def run_grid(*argv: str) -> list:
    return run_cli.build_configs(parse("run", *argv))


def sweep_grid(*argv: str) -> list:
    return [cfg for _, cfg in sweep.grid(parse("sweep", *argv))]


# ============================================================================ the grid
@pytest.mark.parametrize("group", list(run_cli.GROUP_OPTIONS))
def test_each_group_sweeps_the_grid_seemlab_run_builds(group):
    argv = ["--group", group, "--profile", "smoke", "--seeds", "0", "1"]
    assert sweep_grid(*argv) == list(dict.fromkeys(run_grid(*argv)))


def test_several_values_sweep_every_combination_of_seemlab_run():
    grid = sweep_grid("--group", "r-xpct", "--profile", "smoke", "--algorithm", "td3_bc", "iql",
                      "--fraction", "0.01", "1", "--layernorm", "off", "on", "--seeds", "0", "1")
    expected = [c for alg in ("td3_bc", "iql") for x in ("0.01", "1") for ln in ([], ["--layernorm"])
                for c in run_grid("--group", "r-xpct", "--profile", "smoke", "--algorithm", alg, "--fraction", x, *ln,
                                  "--seeds", "0", "1")]
    assert len(grid) == len(set(grid)) == 16 and set(grid) == set(expected)


def test_a_bare_flag_is_on_as_in_seemlab_run():
    argv = ["--group", "r-xpct", "--profile", "smoke", "--layernorm"]
    assert sweep_grid(*argv) == run_grid(*argv) and run_grid(*argv)[0].agent.critic_norm == "layer"


def test_a_run_two_groups_share_is_swept_once():
    labelled = sweep.grid(parse("sweep", "--group", "r-seem", "r-gamma", "--profile", "smoke"))
    # smoke R-GAMMA is γ ∈ {0, 0.99} on Hopper; its γ = 0.99 run is the R-SEEM Hopper run
    assert [(g, c.agent.gamma) for g, c in labelled] == [("r-seem", 0.99), ("r-gamma", 0.0)]


def test_an_option_applies_only_to_the_groups_that_use_it():
    grid = sweep_grid("--group", "r-seem", "r-gamma", "--task", "walker2d", "--profile", "smoke")
    assert [c.dataset for c in grid] == ["local:walker2d-random-10k-v0"] + ["local:hopper-random-10k-v0"] * 2


# ============================================================================ dry run
RATES = {"cpu": {"date": "2026-12-07", "processor": "x86_64", "threads": 1, "torch": "2.13.0",
                 "updates_per_s": {"td3_bc": {"64": 800.0, "256": 200.0}, "iql": {"64": 500.0, "256": 125.0}}}}


def dry_run(capsys, *argv):
    assert cli.main(["sweep", "--dry-run", *argv]) == 0
    return capsys.readouterr().out


def number_after(text: str, words: str) -> float:
    return float(re.search(re.escape(words) + r" ([0-9.e+]+)", text).group(1))


def test_dry_run_prints_the_grid_size_and_hours_from_the_rates(tmp_path, capsys):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(RATES))
    out = dry_run(capsys, "--group", "r-xpct", "--profile", "full", "--algorithm", "td3_bc", "iql",
                  "--fraction", "0.01", "1", "--seeds", "0", "1", "--rates", str(path), "--gpus-per-run", "0.25")
    assert "grid: 8 runs, 8 not yet in the run cache" in out
    hours = 4 * 1e6 / 200.0 / 3600 + 4 * 1e6 / 125.0 / 3600  # 4 runs of 1M steps each, at width 256
    assert number_after(out, "run-hours:") == pytest.approx(hours, rel=1e-3)
    assert number_after(out, "GPU-hours at 0.25 GPU per run:") == pytest.approx(0.25 * hours, rel=1e-3)
    assert "measured on cpu" in out and "no GPU rates" in out and "2026-12-07" in out


def test_dry_run_uses_the_committed_rates_file(capsys):
    table = json.loads(sweep.RATES.read_text())
    device = "cuda" if "cuda" in table else "cpu"
    out = dry_run(capsys, "--group", "r-xpct", "--profile", "full")
    assert "grid: 1 runs" in out and f"measured on {device}" in out
    rate = table[device]["updates_per_s"]["td3_bc"]["256"]  # R-XPCT FULL: TD3+BC, width 256, 1M steps
    assert number_after(out, "GPU-hours at 1 GPU per run:") == pytest.approx(1e6 / rate / 3600, rel=1e-3)


def test_rates_fall_back_to_a_wider_measurement_or_a_stand_in():
    rates = RATES["cpu"]["updates_per_s"]
    seem = runs.r_seem("hopper", 0, "smoke")  # critic width 16: the width-64 rate
    assert sweep.run_rate(seem, rates) == (800.0, "width 64's rate")
    ddpg = runs.r_ddpg_abl("full", "minari:mujoco/hopper/medium-v0", 0.1)["+EMA"]
    assert sweep.run_rate(ddpg, rates) == (200.0, "td3_bc's rate")
    wide = seem.replace(agent=seem.agent.replace(critic_width=512))
    assert sweep.run_rate(wide, rates)[0] == pytest.approx(200.0 / 4)
    assert sweep.run_rate(seem.replace(agent=runs.xpct_agent("smoke", "cql")), rates) is None


# ============================================================================ bad input
@pytest.mark.parametrize("argv, word", [(["--group", "r-seem", "r-foo"], "--group"),
                                        (["--gpus-per-run", "-1"], "--gpus-per-run"),
                                        (["--gpus-per-run", "1.5"], "whole number"),
                                        (["--cpus-per-run", "0"], "--cpus-per-run"),
                                        (["--threads", "0"], "--threads"),
                                        (["--retries", "-1"], "--retries"),
                                        (["--backend", "slurm"], "--backend"),
                                        (["--group", "r-gamma", "--task", "hopper"], "--task"),
                                        (["--group", "r-norm10", "--fraction", "0.1", "1.5"], "--fraction"),
                                        (["--group", "r-xpct", "--algorithm", "td3_bc", "sac"], "--algorithm"),
                                        (["--set", "tau=2"], "tau")])
def test_bad_input_fails_with_one_line_before_training(argv, word, capsys, monkeypatch):
    monkeypatch.setattr(sweep, "sweep", lambda *a, **k: pytest.fail("trained despite bad input"))
    assert cli.main(["sweep", "--profile", "smoke", "--no-progress", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seemlab sweep: error:") and word in err and "\n" not in err


def test_a_missing_ray_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert cli.main(["sweep", "--profile", "smoke", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install -e .[sweep]" in err and "\n" not in err


def test_missing_rates_file_is_one_line(tmp_path, capsys):
    assert cli.main(["sweep", "--dry-run", "--rates", str(tmp_path / "none.json")]) == 2
    assert "--rates-out" in capsys.readouterr().err


# ============================================================================ on a local Ray
SMOKE = ["--group", "r-seem", "--profile", "smoke", "--no-progress"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The smoke R-SEEM run trained by `seemlab run` in this process: {file name: RunResult}."""
    import os

    folder = tmp_path_factory.mktemp("run-cache")
    before = os.environ[runs.CACHE_ENV]
    os.environ[runs.CACHE_ENV] = str(folder)
    try:
        assert cli.main(["run", *SMOKE]) == 0
        return cached_results(folder)
    finally:
        os.environ[runs.CACHE_ENV] = before


def cached_results(folder) -> dict:
    return {p.name: runs.load_result(p) for p in sorted((folder / "runs").glob("*.npz"))}


def assert_same_results(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)  # the same cache keys
    for name, res in got.items():
        ref = expected[name]
        assert res.config == ref.config
        for part in ("logs", "q1_init", "q1_final"):
            a, b = getattr(res, part), getattr(ref, part)
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a), part


@pytest.mark.ray
def test_sweep_on_ray_writes_what_seemlab_run_writes_and_a_rerun_trains_nothing(reference, tmp_path, monkeypatch,
                                                                             capsys):
    pytest.importorskip("ray")
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    assert cli.main(["sweep", *SMOKE, "--backend", "ray"]) == 0
    assert "1 runs: 1 trained, 0 cached, 0 failed" in capsys.readouterr().out
    assert_same_results(cached_results(tmp_path), reference)
    assert not list(tmp_path.glob("checkpoints/*"))
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    monkeypatch.setattr(sweep, "_ray", lambda address: pytest.fail("a finished grid started Ray"))
    assert cli.main(["sweep", *SMOKE, "--backend", "ray"]) == 0
    assert "1 runs: 0 trained, 1 cached, 0 failed" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()} == stamp


def test_the_local_backend_trains_in_this_process_and_then_finds_the_cache(reference, tmp_path, monkeypatch):
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    cfgs = smoke_configs()
    assert sweep.sweep(cfgs, backend="local", progress=False)[cfgs[0]]["status"] == "trained"
    assert_same_results(cached_results(tmp_path), reference)
    assert sweep.sweep(cfgs, backend="local", progress=False)[cfgs[0]]["status"] == "cached"


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the tests below (a sweep uses a Ray this process has started)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def smoke_configs():
    return [cfg for _, cfg in sweep.grid(parse("sweep", *SMOKE))]


@pytest.mark.ray
def test_a_failed_run_is_retried_from_the_checkpoint_the_driver_holds(local_ray, reference, tmp_path, monkeypatch):
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    cfgs = smoke_configs()  # 200 steps; checkpoints every 50; the first attempt fails at step 120
    outcome = sweep.sweep(cfgs, checkpoint_every=50, progress=False, fault=("raise", 120))
    o = outcome[cfgs[0]]
    assert o["status"] == "trained" and o["attempts"] == 2 and "injected failure at step 120" in o["errors"][0]
    assert o["started_at"] == [0, 101]  # the retry resumed from the step-100 checkpoint
    assert_same_results(cached_results(tmp_path), reference)
    assert not runs.checkpoint_path(cfgs).exists()


@pytest.mark.ray
def test_a_lost_worker_is_retried_and_the_run_completes(local_ray, reference, tmp_path, monkeypatch):
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    cfgs = smoke_configs()
    outcome = sweep.sweep(cfgs, checkpoint_every=50, progress=False, fault=("exit", 120))
    o = outcome[cfgs[0]]
    assert o["status"] == "trained" and o["attempts"] == 2 and "Worker" in o["errors"][0]
    assert o["started_at"][0] == 0 and o["started_at"][1] in (0, 101)  # the checkpoint may die with the worker
    assert_same_results(cached_results(tmp_path), reference)


@pytest.mark.ray
def test_a_run_that_keeps_failing_is_reported_failed(local_ray, tmp_path, monkeypatch):
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    cfgs = smoke_configs()
    outcome = sweep.sweep(cfgs, retries=0, checkpoint_every=50, progress=False, fault=("raise", 120))
    assert outcome[cfgs[0]]["status"] == "failed" and outcome[cfgs[0]]["attempts"] == 1
    assert not runs.run_path(cfgs[0]).exists() and runs.checkpoint_path(cfgs).exists()  # kept for the next sweep


@pytest.mark.ray
@pytest.mark.parametrize("resources, word", [(dict(gpus_per_run=0.25), "GPU"), (dict(cpus_per_run=64), "CPU")])
def test_requests_the_cluster_cannot_place_fail_in_one_line(local_ray, tmp_path, monkeypatch, resources, word):
    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path))
    with pytest.raises(ValueError, match=f"the Ray cluster has .* {word}"):
        sweep.sweep(smoke_configs(), progress=False, **resources)
