"""Every notebook runs its FULL code paths: ``profile="full"`` shrunk to smoke sizes
(``SEEMLAB_SHRINK_FULL``, :mod:`seemlab.profiles`), on FULL's datasets in their real layouts
(Minari ids and D4RL files made locally, tests/full/datasets.py). A FULL-only branch with a bug
fails here; the claims such a run records are never evidence.

The page runs (marked ``full_paths``) take ~5 min on 2 cores, so ``pytest -q`` deselects them;
``pytest -m full_paths`` runs them, and CI (.ci/run) does so as its own step."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from seemlab import book, claims, runs
from seemlab.profiles import SHRINK_ENV, ParameterError, pick, shrunk

from conftest import ROOT
from full.datasets import make_all
from full.runner import INJECTED_BUG, full_environment, inject_full_only_bug, run_full_shrunk
from nbstructure import structure_diff

NOTEBOOKS = book.toc_notebooks(ROOT)
HOPPER = "minari:mujoco/hopper/medium-v0"


def smaller_grid(name: str, d4rl: Path) -> dict:
    """Papermill parameters that cut a page's FULL grid (lists the shrink leaves at full length)
    while keeping every FULL-only branch reachable; the other pages run their whole FULL grid."""
    return {
        # Fig 9's FULL checks read X = 1 %, 10 % and 100 %, and treat TD3+BC (a ratio bound) and IQL
        # (none) apart; the paper's medium-replay data exist only as D4RL files
        "fig08_09_xpct": dict(datasets=[f"d4rl:{d4rl / 'hopper-medium-replay-v2.hdf5'}"], fractions=[0.01, 0.1, 1.0],
                              algorithms=["td3_bc", "iql"]),
        "fig12_ddpg_ablation": dict(datasets=[HOPPER]),  # fractions stay FULL's [0.1, 0.5]: the `x == 0.1` check
        # a D4RL medium-expert file the loader builds from its medium and expert parts
        "fig13_norms_10pct": dict(datasets=[HOPPER, f"d4rl:{d4rl / 'walker2d-medium-expert-v2.hdf5'}"]),
        "fig18_20_antmaze": dict(datasets=["minari:D4RL/antmaze/umaze-v1", f"d4rl:{d4rl / 'antmaze-large-play-v0.hdf5'}"]),
        # a maze without OPER-R and a large one (Tables 4 and 5 run there only)
        "tables_diffql_antmaze": dict(tasks=["umaze", "large-play"]),
        "fig11_online_sac": dict(envs=["Hopper-v5"]),
    }.get(name, {})


FULL_ONLY_CLAIMS = {
    "fig07_bc_bias": ["fig07_bc_bias/ln_scores"],
    "fig08_09_xpct": ["fig08_09_xpct/td3_bc/total_1pct", "fig08_09_xpct/iql/ln_gain_100pct"],
    "fig11_online_sac": ["fig11_online_sac/Hopper-v5_ln_matches_ema"],
    "fig12_ddpg_ablation": ["fig12_ddpg_ablation/ln_gain_10"],
    "fig13_norms_10pct": ["fig13_norms_10pct/ln_gain", "fig13_norms_10pct/bn_not_above_ln"],
    "tables_diffql_antmaze": ["tables_diffql_antmaze/t1_ours_average", "tables_diffql_antmaze/t4_large-play"],
}
"""Checks that only a FULL branch records: their records show that the branch ran."""


@pytest.fixture(scope="session")
def full_data(tmp_path_factory) -> dict[str, Path]:
    """FULL's Minari ids and D4RL files, made once per session (tests/full/datasets.py)."""
    return make_all(tmp_path_factory.mktemp("full-data"))


@pytest.fixture
def full_env(full_data, claims_dir, monkeypatch):
    """Sets the shrunk-FULL environment for one notebook; returns a setter taking its name."""
    def enter(name: str) -> None:
        for key, value in full_environment(full_data, claims_dir, name).items():
            monkeypatch.setenv(key, value)
    return enter


@pytest.mark.notebook
@pytest.mark.full_paths
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_its_full_paths(name, tmp_path, full_data, full_env, claims_dir):
    full_env(name)
    run_full_shrunk(ROOT / "notebooks" / f"{name}.ipynb", tmp_path / f"{name}.ipynb",
                    smaller_grid(name, full_data["d4rl"]), ROOT)
    records = claims.load(claims_dir / claims.CLAIMS_FILE)
    missing = set(FULL_ONLY_CLAIMS.get(name, ())) - {e["claim_id"] for e in records}
    assert not missing, f"{name}: FULL-only checks not recorded, so their branch did not run: {sorted(missing)}"
    for entry in records:
        assert entry["profile"] == "full" and entry["notebook"] == name
        assert entry["block"] == claims.SHRUNK_BLOCK and entry["shrunk"] and not claims.is_evidence(entry)
    diff = structure_diff(nbformat.read(str(ROOT / "notebooks" / f"{name}.ipynb"), as_version=4),
                          nbformat.read(str(tmp_path / f"{name}.ipynb"), as_version=4))
    assert not diff, f"{name} at FULL lacks the structure of the committed notebook:{diff}"


BUGGED = "fig08_09_xpct"
"""The page whose FULL-only ``else:`` (Fig 9's checks on the paper's totals) gets a bug injected."""


@pytest.mark.notebook
@pytest.mark.full_paths
def test_a_bug_in_a_full_only_branch_fails_the_full_run_only(tmp_path, full_data, full_env, monkeypatch):
    bugged = tmp_path / f"{BUGGED}.ipynb"
    nbformat.write(inject_full_only_bug(nbformat.read(str(ROOT / "notebooks" / f"{BUGGED}.ipynb"), as_version=4)),
                   str(bugged))
    full_env(BUGGED)
    with pytest.raises(papermill.PapermillExecutionError, match=INJECTED_BUG):
        run_full_shrunk(bugged, tmp_path / "full.ipynb", smaller_grid(BUGGED, full_data["d4rl"]), ROOT)
    # the same runner passes on the committed page (its runs are cached by now) ...
    run_full_shrunk(ROOT / "notebooks" / f"{BUGGED}.ipynb", tmp_path / "committed.ipynb",
                    smaller_grid(BUGGED, full_data["d4rl"]), ROOT)
    # ... while at smoke, the only profile the tests ran before, the bug goes unnoticed
    monkeypatch.delenv(SHRINK_ENV)
    papermill.execute_notebook(str(bugged), str(tmp_path / "smoke.ipynb"), parameters={"profile": "smoke"},
                               cwd=str(ROOT), kernel_name="python3", progress_bar=False)


def test_the_bug_goes_first_into_the_full_only_branch():
    committed = nbformat.read(str(ROOT / "notebooks" / f"{BUGGED}.ipynb"), as_version=4)
    changed = [b.source for a, b in zip(committed.cells, inject_full_only_bug(committed).cells) if a.source != b.source]
    assert len(changed) == 1 and changed[0].count(INJECTED_BUG) == 1
    compile(changed[0], "cell", "exec")
    for source, bugged in (('if profile == "full":\n    y = 2\n', f'if profile == "full":\n    {INJECTED_BUG}\n    y = 2\n'),
                           ('if profile != "full":\n    y = 1\nelse:\n    y = 2\n',
                            f'if profile != "full":\n    y = 1\nelse:\n    {INJECTED_BUG}\n    y = 2\n')):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(source)])
        assert inject_full_only_bug(nb).cells[1].source == bugged
    with pytest.raises(ValueError, match="no `if profile"):
        inject_full_only_bug(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))


def test_shrunk_full_takes_the_smoke_numbers_and_keeps_everything_else(monkeypatch):
    sizes = dict(smoke=200, quick=10_000, full=1_000_000)
    grid = dict(smoke=["local:a"], quick=["local:a"], full=["minari:b", "minari:c"])
    monkeypatch.delenv(SHRINK_ENV, raising=False)
    assert not shrunk() and pick("full", None, **sizes) == 1_000_000
    monkeypatch.setenv(SHRINK_ENV, "1")
    assert shrunk()
    assert pick("full", None, **sizes) == 200 and pick("full", None, smoke=0.01, quick=0.005, full=0.005) == 0.01
    assert pick("full", None, **grid) == ["minari:b", "minari:c"]
    assert pick("full", None, smoke=False, quick=False, full=True) is True
    assert pick("full", None, smoke=None, quick=5000, full=None) is None
    assert pick("full", 7, **sizes) == 7, "an explicit parameter still wins"
    assert [pick(p, None, **sizes) for p in ("smoke", "quick")] == [200, 10_000]
    cfg = runs.r_seem("hopper", 0, "full")
    assert cfg.dataset == "minari:mujoco/hopper/medium-v0" and cfg.diagnostics.scale == "full"
    assert cfg.agent.steps == 200 and cfg.agent.critic_width == 16


def test_shrink_variable_takes_only_0_or_1(monkeypatch):
    monkeypatch.setenv(SHRINK_ENV, "yes")
    with pytest.raises(ParameterError, match=f"{SHRINK_ENV} must be 0 or 1, got 'yes'"):
        pick("full", None, smoke=1, quick=2, full=3)


def test_a_shrunk_run_records_outside_the_book_and_never_as_evidence(claims_dir, monkeypatch):
    monkeypatch.setenv(claims.BLOCK_ENV, claims.MAIN_BLOCK)  # as if inside `seemlab book`
    monkeypatch.setenv(SHRINK_ENV, "1")
    entry = claims.check("nb/x", 5.0, lo=1.0, item="Figure 8", statement="s", paper=1, profile="full")
    assert entry["verdict"] == "pass" and entry["shrunk"]
    assert entry["block"] == entry["blocks"][0] == claims.SHRUNK_BLOCK not in claims.BOOK_BLOCKS
    assert not claims.is_evidence(entry) and claims.item_status([entry]) == "inconclusive"
    assert claims.rows("nb", "full") == [entry], "the page's own table still shows it"
    monkeypatch.delenv(SHRINK_ENV)
    plain = claims.check("nb/x", 5.0, lo=1.0, item="Figure 8", statement="s", paper=1, profile="full")
    assert "shrunk" not in plain and plain["block"] == claims.MAIN_BLOCK and claims.is_evidence(plain)
