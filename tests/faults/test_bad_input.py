"""Bad input is one line naming the parameter, the value and the allowed values, before any compute.

Covers the schema (seemlab.params), `seemlab run` and `seemlab data` options, the config
dataclasses, dataset specs and files, and notebook parameters under papermill.
"""

from __future__ import annotations

import ast
import json
import math

import papermill
import pytest

from seemlab import book, cli, runs
from seemlab.data import parse_spec
from seemlab.params import (boolean, check_parameters, choice, integer, known_profile, number, sequence_of,
                            text)
from seemlab.profiles import ParameterError
from seemlab.rl.sac import SACConfig, check_config
from seemlab.rl.td3 import TD3Config
from seemlab.toy.nav import NavConfig, validate

from conftest import ROOT


# ---------------------------------------------------------------------------- the schema
@pytest.mark.parametrize("spec, value, message", [
    (number(0, 1, hi_open=True), 1.5, "gamma = 1.5 is out of range; allowed values: a number in [0, 1)"),
    (number(0, lo_open=True), "abc", "gamma = 'abc' is not a number; allowed values: a number > 0"),
    (number(), math.nan, "gamma = nan is not finite; allowed values: a number"),
    (number(0, 1, optional=True), -1, "gamma = -1 is out of range; allowed values: a number in [0, 1], "
                                      "or None (the profile's default)"),
    (integer(min=1), 0, "gamma = 0 is out of range; allowed values: an integer >= 1"),
    (integer(min=1), 2.0, "gamma = 2.0 is not an integer; allowed values: an integer >= 1"),
    (integer(min=0), True, "gamma = True is not an integer; allowed values: an integer >= 0"),
    (choice("a", "b"), "c", "unknown gamma 'c'; allowed values: a, b"),
    (text(), "", "gamma = '' is not a non-empty string; allowed values: a non-empty string"),
    (boolean(), 1, "gamma = 1 is not True or False; allowed values: True or False"),
    (sequence_of(number(0, 1)), [0.5, 2], "gamma[1] = 2 is out of range; allowed values: a number in [0, 1]"),
    (sequence_of(number()), "0.5", "gamma = '0.5' is not a list or tuple; allowed values: a non-empty list, "
                                   "each item a number"),
    (sequence_of(number(), length=2), (1,), "gamma = (1,) has 1 items; allowed values: a list of 2 items, "
                                            "each item a number"),
])
def test_a_bad_value_is_one_line_naming_name_value_and_range(spec, value, message):
    with pytest.raises(ParameterError) as err:
        spec.check("gamma", value)
    assert str(err.value) == message


def test_allowed_values_pass_unchanged():
    assert number(0, 1, hi_open=True, optional=True).check("g", None) is None
    assert integer(min=1).check("n", 3) == 3 and sequence_of(text()).check("d", ["local:x"]) == ["local:x"]
    assert known_profile().check("profile", "smoke") == "smoke"


def test_notebook_check_rejects_an_injected_unknown_parameter():
    history = ["", "profile = 'quick'\ngamma = None\n", "# Parameters\nprofile = \"smoke\"\ngamma_typo = 0.9\n", ""]
    namespace = dict(In=history, profile="smoke", gamma=None, gamma_typo=0.9, np=math)
    with pytest.raises(ParameterError, match="^unknown parameter gamma_typo; allowed parameters: profile, gamma$"):
        check_parameters(namespace, profile=known_profile(), gamma=number(0, 1, optional=True))


def test_notebook_check_ignores_earlier_variables_when_rerun_interactively():
    history = ["", "profile = 'quick'\n", "results = {}\n", ""]  # no papermill cell; a leftover variable
    check_parameters(dict(In=history, profile="quick", results={}), profile=known_profile())


def test_notebook_check_outside_ipython_rejects_any_other_plain_value():
    with pytest.raises(ParameterError, match="unknown parameter gamma_typo"):
        check_parameters(dict(profile="quick", gamma_typo=0.9, math=math, check=check_parameters),
                         profile=known_profile())


# ---------------------------------------------------------------------------- seemlab run / data
@pytest.fixture
def no_training(monkeypatch):
    """Any training or cache lookup fails the test: bad input must stop before it."""
    def boom(*args, **kwargs):
        raise AssertionError("compute started")
    monkeypatch.setattr(runs, "run_many", boom)
    monkeypatch.setattr(runs, "train_group", boom)


def run_cli(capsys, *argv) -> str:
    code = cli.main(["run", "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    return err.removeprefix("seemlab run: error: ").strip()


@pytest.mark.parametrize("argv, message", [
    (["--device", "bogus"], "unknown --device 'bogus'; allowed values: auto, cpu, cuda, cuda:N"),
    (["--device", "mps"], "unknown --device 'mps'; allowed values: auto, cpu, cuda, cuda:N"),
    (["--device", "cuda:"], "unknown --device 'cuda:'; allowed values: auto, cpu, cuda, cuda:N"),
    (["--group", "r-seem", "--fraction", "0.5"],
     "--fraction is not used by --group r-seem; it applies to r-ddpg-abl, r-norm10"),
    (["--group", "r-gamma", "--fraction", "0.1"],  # the default value, given: still an error
     "--fraction is not used by --group r-gamma; it applies to r-ddpg-abl, r-norm10"),
    (["--group", "r-reg", "--fraction", "0.5"],
     "--fraction is not used by --group r-reg; it applies to r-ddpg-abl, r-norm10"),
    (["--group", "r-gamma", "--task", "walker2d"],
     "--task is not used by --group r-gamma; it applies to r-seem, r-ddpg-abl, r-norm10"),
    (["--group", "r-reg", "--task", "hopper"],
     "--task is not used by --group r-reg; it applies to r-seem, r-ddpg-abl, r-norm10"),
    (["--group", "r-norm10", "--fraction", "1.5"], "--fraction = 1.5 is out of range; allowed values: a number in (0, 1]"),
    (["--group", "r-ddpg-abl", "--fraction", "0"], "--fraction = 0.0 is out of range; allowed values: a number in (0, 1]"),
    (["--task", "ant"], "unknown --task 'ant'; allowed values: hopper, walker2d, halfcheetah, antmaze"),
    (["--profile", "huge"], "unknown --profile 'huge'; allowed values: smoke, quick, full"),
    (["--seeds", "0", "-1"], "--seeds[1] = -1 is out of range; allowed values: an integer >= 0"),
    (["--wait", "-5"], "--wait = -5.0 is out of range; allowed values: a number >= 0"),
    (["--profile", "smoke", "--set", "gamma=1.5"], "TD3Config.gamma = 1.5 is out of range; allowed values: a number in [0, 1]"),
    (["--profile", "smoke", "--set", "critic_lr=abc"], "TD3Config.critic_lr = 'abc' is not a number; allowed values: a number > 0"),
    (["--dataset", "local:"], "dataset spec 'local:' names no dataset; allowed values: local:<name>"),
])
def test_bad_run_options_stop_before_any_compute(capsys, no_training, argv, message):
    assert run_cli(capsys, *argv).startswith(message)


def test_missing_cuda_device_is_named(capsys, no_training):
    import torch

    if torch.cuda.is_available():
        argv, message = ["--device", f"cuda:{torch.cuda.device_count()}"], "CUDA device(s)"
    else:
        argv, message = ["--device", "cuda:0"], "--device 'cuda:0': CUDA is not available on this machine"
    assert message in run_cli(capsys, *argv)


@pytest.mark.parametrize("argv, message", [
    (["show", "local:"], "dataset spec 'local:' names no dataset; allowed values: local:<name>"),
    (["show", "minari:"], "dataset spec 'minari:' names no dataset; allowed values: minari:<dataset id>"),
    (["show", "d4rl:/path/that/does/not/exist.hdf5"], "D4RL file not found: /path/that/does/not/exist.hdf5"),
    (["generate", "random", "--env", "Hopper-v5", "--seed", "-1"],
     "--seed = -1 is out of range; allowed values: an integer >= 0"),
    (["generate", "sac", "--env", "Hopper-v5", "--sac-steps", "0"],
     "--sac-steps = 0 is out of range; allowed values: an integer >= 1"),
])
def test_bad_data_options_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.setenv("SEEMLAB_DATA_DIR", str(tmp_path))
    assert cli.main(["data", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"seemlab data: error: {message}") and err.count("\n") == 1, err


@pytest.mark.parametrize("name", ["random.hdf5", "hopper-medium-v2.hdf5"])
def test_a_d4rl_file_of_random_bytes_is_named_before_its_task_family(capsys, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 8)
    assert cli.main(["data", "show", f"d4rl:{path}"]) == 2
    err = capsys.readouterr().err
    assert f"{path} is not a readable hdf5 file: no HDF5 signature" in err and "task family" not in err


def test_wait_is_passed_to_the_runs_only_when_given(capsys, monkeypatch):
    seen = []

    def fake_run_many(cfgs, **kwargs):
        seen.append(kwargs)
        raise ValueError("stop here")
    monkeypatch.setattr(runs, "run_many", fake_run_many)
    cli.main(["run", "--profile", "smoke", "--device", "cpu", "--wait", "2.5"])
    cli.main(["run", "--profile", "smoke", "--device", "cpu"])
    assert seen[0]["wait"] == 2.5 and "wait" not in seen[1]


def test_run_task_choices_are_the_known_tasks():
    from seemlab import run_cli as rc

    assert rc.grid_options()["task"].choices == tuple(runs.DATASETS)


# ---------------------------------------------------------------------------- configs and specs
@pytest.mark.parametrize("make, message", [
    (lambda: validate(NavConfig(gamma=1.5)), "NavConfig.gamma = 1.5 is out of range; allowed values: a number in [0, 1)"),
    (lambda: validate(NavConfig(lr="abc")), "NavConfig.lr = 'abc' is not a number; allowed values: a number > 0"),
    (lambda: validate(NavConfig(seem_every=-1)), "NavConfig.seem_every = -1 is out of range"),
    (lambda: TD3Config(gamma=1.5), "TD3Config.gamma = 1.5 is out of range; allowed values: a number in [0, 1]"),
    (lambda: TD3Config(critic_lr="abc"), "TD3Config.critic_lr = 'abc' is not a number; allowed values: a number > 0"),
    (lambda: TD3Config(norm_layers=(5,)), "TD3Config.norm_layers[0] = 5 is out of range; allowed values: an integer in [0, 1]"),
    (lambda: check_config(SACConfig(gamma=1.5)), "SACConfig.gamma = 1.5 is out of range; allowed values: a number in [0, 1]"),
    (lambda: check_config(SACConfig(q_lr="abc")), "SACConfig.q_lr = 'abc' is not a number; allowed values: a number > 0"),
    (lambda: parse_spec("local:"), "dataset spec 'local:' names no dataset; allowed values: local:<name>"),
    (lambda: parse_spec("d4rl:  "), "dataset spec 'd4rl:  ' names no dataset; allowed values: d4rl:<path"),
    (lambda: parse_spec(None), "dataset spec None is not a string"),
])
def test_config_and_spec_errors_name_field_value_and_range(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


# ---------------------------------------------------------------------------- notebooks
def parameters_and_check(name: str) -> tuple[list[str], dict]:
    """The names the `parameters` cell assigns, in order, and the cell after it."""
    cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    i = next(k for k, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    names = [t.id for n in ast.parse("".join(cells[i]["source"])).body if isinstance(n, ast.Assign) for t in n.targets]
    return names, cells[i + 1]


@pytest.mark.parametrize("name", book.toc_notebooks(ROOT))
def test_each_notebook_checks_exactly_its_parameters_right_after_them(name):
    names, cell = parameters_and_check(name)
    assert "check-parameters" in cell["metadata"].get("tags", []), "the cell after `parameters` must check them"
    calls = [n for n in ast.walk(ast.parse("".join(cell["source"])))
             if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "check_parameters"]
    assert len(calls) == 1 and [k.arg for k in calls[0].keywords] == names


@pytest.mark.notebook
@pytest.mark.parametrize("parameters, message", [
    (dict(gamma_typo=0.9), "ParameterError: unknown parameter gamma_typo; allowed parameters: "
                           "profile, seed, n_seeds, width, grid_n, x0"),
    (dict(n_seeds=0), "ParameterError: n_seeds = 0 is out of range; allowed values: an integer >= 1, "
                      "or None (the profile's default)"),
    (dict(grid_n=-3), "ParameterError: grid_n = -3 is out of range; allowed values: an integer >= 2, "
                      "or None (the profile's default)"),
])
def test_papermill_stops_a_notebook_at_its_check_cell(tmp_path, claims_dir, parameters, message):
    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(ROOT / "notebooks" / "fig05_ntk_map.ipynb"), str(out),
                                   parameters={"profile": "smoke", **parameters}, cwd=str(ROOT),
                                   kernel_name="python3", progress_bar=False)
    assert err.value.traceback == [message]
    cells = json.loads(out.read_text())["cells"]
    check = next(k for k, c in enumerate(cells) if "check-parameters" in c["metadata"].get("tags", []))
    assert all(c.get("execution_count") is None for c in cells[check + 1:] if c["cell_type"] == "code")
    assert not claims_dir.exists()
