"""`seemlab run`: argument parsing and bad input (no training)."""

import pytest

from seemlab import cli, run_cli


def test_parse_sets_reads_literals_and_text():
    assert run_cli.parse_sets(["gamma=0.9", "critic_norm=layer", "norm_layers=(0,)"]) == {
        "gamma": 0.9, "critic_norm": "layer", "norm_layers": (0,)}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        run_cli.parse_sets(["learning_rate=1"])


@pytest.mark.parametrize("bad", ["tau=2", "critic_norm=group", "critic_lr=-1", "algorithm=sac"])
def test_bad_settings_fail_before_training_with_one_line(bad, capsys):
    assert cli.main(["run", "--profile", "smoke", "--set", bad, "--no-progress"]) == 2
    assert "seemlab run: error:" in capsys.readouterr().err


def test_groups_build_their_configs():
    parser = cli.argparse.ArgumentParser()
    run_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["run", "--group", "r-gamma", "--profile", "quick", "--set", "critic_width=32"])
    cfgs = run_cli.build_configs(args)
    assert [c.agent.gamma for c in cfgs] == [0.0, 0.5, 0.8, 0.9, 0.95, 0.99]
    assert all(c.agent.critic_width == 32 for c in cfgs)
    args = parser.parse_args(["run", "--group", "r-ddpg-abl", "--task", "walker2d", "--fraction", "0.5", "--seeds", "0", "1"])
    cfgs = run_cli.build_configs(args)
    assert len(cfgs) == 8 and {c.fraction for c in cfgs} == {0.5} and {c.seed for c in cfgs} == {0, 1}
    assert {c.dataset for c in cfgs} == {"local:walker2d-random-10k-v0"}


def test_bad_fraction_fails_before_training(capsys):
    assert cli.main(["run", "--group", "r-norm10", "--fraction", "1.5", "--profile", "smoke", "--no-progress"]) == 2
    assert "fraction" in capsys.readouterr().err


def test_group_defaults_apply_only_when_an_option_is_not_given():
    parser = cli.argparse.ArgumentParser()
    run_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["run", "--group", "r-norm10", "--profile", "smoke"])
    assert args.fraction is None and args.task is None  # "not given" is not the default value
    cfgs = run_cli.build_configs(args)
    assert {c.fraction for c in cfgs} == {0.1} and {c.dataset for c in cfgs} == {"local:hopper-random-10k-v0"}


def test_r_xpct_builds_one_cell_per_seed_for_the_chosen_algorithm():
    parser = cli.argparse.ArgumentParser()
    run_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["run", "--group", "r-xpct", "--fraction", "0.01", "--layernorm", "--seeds", "0", "1",
                              "--set", "critic_width=32"])
    cfgs = run_cli.build_configs(args)
    assert [c.seed for c in cfgs] == [0, 1] and {c.fraction for c in cfgs} == {0.01}
    assert {(c.agent.algorithm, c.agent.critic_norm, c.agent.critic_width) for c in cfgs} == {("td3_bc", "layer", 32)}
    plain = run_cli.build_configs(parser.parse_args(["run", "--group", "r-xpct", "--fraction", "0.01"]))
    assert plain[0].agent.critic_norm == "none"


@pytest.mark.parametrize("argv, word", [(["--group", "r-xpct", "--algorithm", "sac"], "algorithm"),
                                        (["--group", "r-seem", "--algorithm", "iql"], "--algorithm"),
                                        (["--group", "r-norm10", "--layernorm"], "--layernorm")])
def test_xpct_options_are_checked_before_training(argv, word, capsys):
    assert cli.main(["run", *argv, "--profile", "smoke", "--no-progress"]) == 2
    assert word in capsys.readouterr().err
