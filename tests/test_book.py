"""The book command: table of contents, failing notebooks, the scorecard."""

import shutil

import nbformat
import pytest

from seemlab import book, claims
from seemlab.cli import main
from seemlab.scorecard import scorecard_markdown, write_scorecard

from conftest import ROOT


def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)


@pytest.fixture
def mini_book(tmp_path):
    """A repository with two notebooks in its table of contents, one of which raises."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "items.yml", tmp_path / "book" / "items.yml")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: book/_executed/good\n  - file: book/_executed/bad\n  - file: book/_executed/scorecard\n"
    )
    _notebook(tmp_path / "notebooks" / "good.ipynb",
              "from seemlab import claims\n"
              "claims.check('good/x', 1.0, lo=0.5, item='Figure 5', statement='s', paper=1, profile=profile)")
    _notebook(tmp_path / "notebooks" / "bad.ipynb", "raise ZeroDivisionError('deliberate failure')")
    return tmp_path


def test_toc_notebooks_lists_executed_pages_in_order(mini_book):
    assert book.toc_notebooks(mini_book) == ["good", "bad"]


def test_toc_notebook_that_does_not_exist_is_an_error(mini_book):
    (mini_book / "notebooks" / "bad.ipynb").unlink()
    with pytest.raises(ValueError, match="do not exist in notebooks/: bad"):
        book.toc_notebooks(mini_book)


def test_failing_notebook_fails_the_book_with_its_name_and_error(mini_book, capsys):
    code = main(["book", "--root", str(mini_book), "--no-build", "--jobs", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "notebook bad failed: ZeroDivisionError: deliberate failure" in err


def test_good_notebook_writes_claims_and_scorecard(mini_book):
    (mini_book / "notebooks" / "bad.ipynb").write_text((mini_book / "notebooks" / "good.ipynb").read_text())
    assert main(["book", "--root", str(mini_book), "--no-build", "--only", "good"]) == 0
    out = mini_book / book.EXECUTED
    (entry,) = claims.load(out / claims.CLAIMS_FILE)
    assert entry["notebook"] == "good" and entry["profile"] == "quick" and entry["ok"]
    page = (out / "scorecard.md").read_text()
    assert "### {doc}`good`" in page and "1 checks: **1 pass**" in page


def test_bad_profile_is_one_line_error(mini_book, capsys):
    assert main(["book", "--root", str(mini_book), "--profile", "huge"]) == 2
    assert capsys.readouterr().err.strip() == (
        "seemlab book: error: unknown profile 'huge'; allowed values: smoke, quick, full")


def test_scorecard_lists_failures_and_uncovered_items():
    entries = [dict(claim_id="n/a", item="Figure 5", statement="s | t", paper=4.5, ours=3.1, tolerance="ours ≥ 2",
                    ok=False, soft=False, profile="quick", seed=0, notebook="n")]
    items = [{"item": "Figure 5", "notebook": "n", "quick": "yes"}, {"item": "Figure 7", "notebook": "m", "quick": "no"}]
    page = scorecard_markdown(entries, items, "quick", {"n": 1.0})
    assert "**0 pass**, **1 fail**" in page and 'class="verdict fail"' in page
    assert "s \\| t" in page  # a pipe in a statement cannot break the table
    assert "| Figure 7 | `m` | no |" in page and "1 of 2 paper items" in page


def test_scorecard_ignores_other_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEMLAB_CLAIMS_DIR", str(tmp_path))
    claims.check("n/a", 1.0, lo=0, item="Figure 5", statement="s", paper=1, profile="smoke")
    page = write_scorecard(ROOT, tmp_path, "quick", {}).read_text()
    assert "0 checks" in page


def test_external_references_finds_remote_scripts_but_not_links(tmp_path):
    (tmp_path / "a.html").write_text('<a href="https://arxiv.org/abs/2310.04411">paper</a><script src="_static/x.js"></script>')
    (tmp_path / "b.html").write_text('<script defer="defer" src="https://cdn.example/mathjax.js"></script>')
    (tmp_path / "c.html").write_text("<link rel='stylesheet' href='//fonts.example/css'>")
    assert book.external_references(tmp_path) == ["b.html", "c.html"]
