"""Every command on the "Rerun any figure" page (book/rerun.md) is one the suite runs.

``COMMANDS`` maps each command of the page's ```bash blocks to the test of it: the cheap ones
run for real; ``seemlab book`` runs with the notebook execution and the book build replaced by
mocks (the real ones are tested in test_book.py); the GPU and full-scale ones are parsed and
validated without running; the ``make`` targets are dry-run (``make -n``)."""

import re
import shlex
import shutil
import subprocess
import sys

import nbformat
import pytest

from seemlab import book, cli, run_cli

from conftest import ROOT

PAGE = ROOT / "book" / "rerun.md"


def page_commands() -> list[str]:
    """The commands of the page's ```bash blocks, one per line, comments dropped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _parse(command: str):
    """argparse's reading of a ``seemlab ...`` command, as ``seemlab.cli.main`` builds it."""
    parser = cli.argparse.ArgumentParser(prog="seemlab")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in cli.COMMANDS:
        module.add_parser(sub)
    return parser.parse_args(shlex.split(command)[1:])


def papermill_explore(command, tmp_path, monkeypatch):
    argv = shlex.split(command)
    argv[2] = str(tmp_path / argv[2])  # out.ipynb goes to a scratch folder, not the checkout
    monkeypatch.setenv("SEEMLAB_CLAIMS_DIR", str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "papermill", *argv[1:], "--no-progress-bar", "-k", "python3"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    params = nbformat.read(argv[2], as_version=4).metadata.papermill.parameters
    assert params == {"profile": "quick", "gamma": 0.9, "layernorm": True}


def seemlab_book(command, tmp_path, monkeypatch):
    calls = {}
    monkeypatch.setattr(book, "execute_all", lambda root, names, profile, overrides, jobs, **kw: calls.update(
        names=names, profile=profile, overrides=overrides, fresh=kw["fresh"]) or {})
    monkeypatch.setattr(book, "jupyter_book_build", lambda root: calls.update(built=True))
    for check in ("external_references", "spec_mentions", "unfinished_pages"):  # they read the (mocked) build's pages
        if hasattr(book, check):
            monkeypatch.setattr(book, check, lambda html, *names: [])
    monkeypatch.setattr("seemlab.scorecard.write_scorecard", lambda *a, **k: calls.update(scorecard=True))
    args = _parse(command)
    args.root = str(ROOT)
    assert args.func(args) == 0
    assert calls["names"] == ["fig05_ntk_map"] and calls["profile"] == "quick" and not calls["fresh"]
    assert calls["scorecard"] and calls.get("built", False) is not args.no_build
    assert calls["overrides"] == dict(args.parameter or [])


def seemlab_run_full_gpu(command, tmp_path, monkeypatch):
    args = _parse(command)
    assert (args.group, args.profile, args.device) == ("r-seem", "full", "cuda")
    run_cli.check_args(args)  # every option valid for the group, before anything is built
    assert "--device" in subprocess.run([sys.executable, "-m", "seemlab.cli", "run", "--help"], cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout


def make_dry_run(expected):
    def check(command, tmp_path, monkeypatch):
        if shutil.which("make") is None:
            pytest.skip("make is not installed")
        out = subprocess.run([*shlex.split(command), "-n"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        assert expected in out, out
    return check


COMMANDS = {
    "papermill notebooks/explore_self_excitation.ipynb out.ipynb -p profile quick -p gamma 0.9 -p layernorm True":
        papermill_explore,
    "seemlab book --only fig05_ntk_map": seemlab_book,
    "seemlab book --only fig05_ntk_map --no-build -p seed 3": seemlab_book,
    "make check": make_dry_run("seemlab check --profile quick"),
    "seemlab run --group r-seem --profile full --device cuda": seemlab_run_full_gpu,
    "make book PROFILE=full": make_dry_run("seemlab book --profile full"),
    "make explore": make_dry_run("jupyter lab _explore/explore_self_excitation.ipynb"),
}


def test_every_command_on_the_page_is_tested():
    assert sorted(page_commands()) == sorted(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_page_command(command, tmp_path, monkeypatch):
    COMMANDS[command](command, tmp_path, monkeypatch)


def test_rerun_page_is_in_the_table_of_contents():
    assert "file: book/rerun" in (ROOT / "_toc.yml").read_text(encoding="utf-8")
