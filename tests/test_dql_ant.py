"""R-DQL-ANT (Tables 1, 2, 4, 5 and Fig 7): the paper's tables as constants, the run group's
arms, data, OPER-R and evaluation settings, and its command line."""

import pytest

from seemlab import cli, paper_tables as pt, run_cli, runs
from seemlab.rl import diffusion_ql as dq


def test_transcription_checks_hold_and_would_catch_a_typo(monkeypatch):
    assert max(pt.average_errors().values()) <= pt.ROUNDING
    assert all(a == b for a, b in pt.shared_cells().values())
    # a wrong digit in one row moves its column's average by 1/6 of the error
    monkeypatch.setitem(pt.TABLE1, "large-play", (0.0, 39.6, 46.8, 63.3, 1.6, 56.4))
    assert pt.average_errors()["Table 1: ours"] > pt.ROUNDING
    assert not all(a == b for a, b in pt.shared_cells().values())


def test_table1_renders_every_task_with_std_and_best():
    text = pt.table1_markdown()
    assert text.count("antmaze-") == 6 and "65.4 ± 8.6 (74.0)" in text and "| average |" in text


def test_arms_change_what_their_table_varies():
    base = runs.r_dql_ant("full", "large-play", "diffql", 0)
    assert base.agent == dq.preset(**{**dq.ANTMAZE, "steps": 1_000_000})
    assert (base.agent.bc_coef, base.agent.reward_scale, base.agent.max_q_backup) == (0.5, 10.0, True)
    assert (base.eval_every, base.eval_episodes, base.dataset) == (50_000, 100, "minari:D4RL/antmaze/large-play-v1")
    ln5 = runs.r_dql_ant("full", "large-play", "ln01", 0).agent
    assert (ln5.critic_norm, ln5.norm_layers, ln5.critic_depth) == ("layer", (0, 1), 3)
    assert runs.r_dql_ant("full", "large-play", "ln_no_affine", 0).agent.norm_affine is False
    assert runs.r_dql_ant("full", "large-play", "bc10", 0).agent.bc_coef == 10.0
    # per-task gradient clip of the SEEM code
    assert runs.r_dql_ant("full", "medium-diverse", "ln", 0).agent.grad_clip == 1.0


def test_oper_follows_the_task_and_the_table2_arm():
    assert runs.r_dql_ant("full", "large-diverse", "ln", 0).oper_p_base == 0.0
    assert runs.r_dql_ant("full", "large-diverse", "ln_no_oper", 0).oper_p_base is None
    assert runs.r_dql_ant("full", "umaze", "ln", 0).oper_p_base is None  # the paper: OPER-R off on umaze


def test_data_sources():
    assert runs.dql_ant_dataset("umaze", "full", "/data/d4rl") == "d4rl:/data/d4rl/antmaze-umaze-v0.hdf5"
    assert runs.dql_ant_dataset("large-play", "quick") == runs.DQL_ANT_QUICK_DATA["antmaze"]
    assert runs.dql_ant_dataset("pointmaze", "quick") == runs.DQL_ANT_QUICK_DATA["pointmaze"]
    with pytest.raises(ValueError, match="QUICK proxy"):
        runs.dql_ant_dataset("pointmaze", "full")
    with pytest.raises(ValueError, match="unknown task"):
        runs.dql_ant_dataset("hopper", "full")
    with pytest.raises(ValueError, match="unknown arm"):
        runs.r_dql_ant("full", "umaze", "xx", 0)


def test_full_grid_puts_each_arm_on_its_tables_tasks():
    arms = [a for t in runs.TABLE_ARMS.values() for a in t]
    grid = runs.dql_ant_grid("full", runs.ANTMAZE_TASKS, arms, range(10))
    # Table 1: 2 arms × 6 tasks; Table 2: 4 tasks; Tables 4 and 5: 2 + 5 arms × 2 tasks; 10 seeds
    assert len(grid) == (12 + 4 + 4 + 10) * 10
    assert {t for t, a, _ in grid if a == "bn"} == {"large-play", "large-diverse"}
    quick = runs.dql_ant_grid("quick", ["large-play"], arms, [0])
    assert len(quick) == len(arms) and len({c.dataset for c in quick.values()}) == 1


def test_cli_builds_the_arm_and_rejects_foreign_options(capsys):
    parser = cli.argparse.ArgumentParser()
    run_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["run", "--group", "r-dql-ant", "--maze", "large-play", "--arm", "wn", "--seeds", "0", "1",
                              "--profile", "full", "--set", "bc_coef=1.0"])
    cfgs = run_cli.build_configs(args)
    assert [c.seed for c in cfgs] == [0, 1]
    assert {(c.agent.critic_norm, c.agent.bc_coef, c.dataset) for c in cfgs} == \
        {("weight", 1.0, "minari:D4RL/antmaze/large-play-v1")}
    assert cli.main(["run", "--group", "r-dql-ant", "--arm", "ln9", "--profile", "smoke", "--no-progress"]) == 2
    assert "--arm" in capsys.readouterr().err
    assert cli.main(["run", "--group", "r-seem", "--maze", "umaze", "--profile", "smoke", "--no-progress"]) == 2
    assert "not used by --group r-seem" in capsys.readouterr().err


def test_tables_render_as_html_with_every_row():
    html = pt.as_html(pt.markdown(pt.TABLE2, pt.TABLE2_COLUMNS, pt.TABLE2_AVERAGE), "Table 2")
    assert html.count("<tr>") == 1 + 6 and html.count('<tr class="average">') == 1
    assert "<caption>Table 2</caption>" in html and "---" not in html
