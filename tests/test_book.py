"""The book command: table of contents, failing notebooks, the scorecard."""

import io
import json
import re
import shutil

import nbformat
import pytest
import yaml

import seemlab
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
    assert "### {doc}`good`" in page and "1 evidence checks: **1 pass**" in page


def test_bad_profile_is_one_line_error(mini_book, capsys):
    assert main(["book", "--root", str(mini_book), "--profile", "huge"]) == 2
    assert capsys.readouterr().err.strip() == (
        "seemlab book: error: unknown profile 'huge'; allowed values: smoke, quick, full")


def _entry(claim_id="n/a", verdict="fail", block="main", **extra):
    fields = dict(claim_id=claim_id, item="Figure 5", statement="s | t", paper=4.5, ours=3.1, tolerance="ours ≥ 2",
                  verdict=verdict, ok=verdict == "pass", profile="quick", seed=0, seeds=[0, 1, 2], block=block,
                  notebook="n")
    return {**fields, **extra}


ITEMS = [{"item": "Figure 5", "notebook": "n", "quick": "yes"}, {"item": "Figure 7", "notebook": "m", "quick": "no"}]


def test_scorecard_lists_failures_and_uncovered_items():
    page = scorecard_markdown([_entry()], ITEMS, "quick", {"n": 1.0})
    assert "**0 pass**, **1 fail**" in page and 'class="verdict fail"' in page
    assert "s \\| t" in page  # a pipe in a statement cannot break the table
    assert "| Figure 7 | `m` | no |" in page and "1 not reproduced, 1 not attempted (of 2)" in page


def test_items_beyond_the_paper_get_their_own_table_and_stay_out_of_the_paper_summary():
    beyond = {"item": "Beyond: X", "notebook": "b", "quick": "yes", "paper": False}
    entries = [_entry(), {**_entry("b/x", "pass"), "item": "Beyond: X", "notebook": "b"}]
    page = scorecard_markdown(entries, ITEMS + [beyond], "quick", {"n": 1.0, "b": 1.0})
    assert "(of 2)" in page and "**0 pass**, **1 fail**" in page  # Beyond: X counted nowhere in the summary
    head, _, rest = page.partition("## Beyond the paper")
    assert "| Beyond: X |" not in head.partition("## Claims")[0] and "| Beyond: X |" in rest


def test_scorecard_counts_evidence_only_and_lists_identities_apart():
    entries = [_entry("n/a", "pass"), _entry("n/b", "identity", holds=True), _entry("n/c", "reported"),
               _entry("n/d", "inconclusive")]
    page = scorecard_markdown(entries, ITEMS, "quick", {"n": 1.0})
    assert "2 evidence checks: **1 pass**, **0 fail**, **1 inconclusive**" in page
    assert "1 identities (sanity checks, 1 hold) and 1 reported values" in page
    assert "1 partly" in page and "identity ✓" in page


def test_scorecard_shows_both_seed_blocks_and_their_seeds():
    entries = [_entry("n/a", "pass"), _entry("n/a", "fail", block="second", seeds=[100, 101, 102])]
    page = scorecard_markdown(entries, ITEMS, "quick", {"n": 1.0})
    assert "Verdict (second block)" in page and "100–102" in page and "| 0–2 |" in page
    assert "1 partly" in page  # a pass on one block and a fail on the other is not reproduced
    assert "seed-fragile: the blocks disagree" in page and "1 checks are seed-fragile" in page


def test_scorecard_names_unreadable_claim_lines(tmp_path):
    (tmp_path / "claims.jsonl").write_text(json.dumps(_entry("n/a", "pass")) + "\n{broken\n")
    page = write_scorecard(ROOT, tmp_path, "quick", {}).read_text()
    assert "**1 unreadable record in claims.jsonl** (skipped): line 2: not JSON" in page


def test_status_sentences_follow_the_item_status(tmp_path):
    (tmp_path / "claims.jsonl").write_text(json.dumps(_entry("n/a", "pass")) + "\n"
                                           + json.dumps(_entry("n/b", "fail")) + "\n")
    write_scorecard(ROOT, tmp_path, "quick", {})
    sentence = (tmp_path / "status" / "figure-5.md").read_text()
    assert sentence.startswith("**Figure 5: partly** at the quick profile (1 of 2 evidence checks pass")
    assert "not attempted" in (tmp_path / "status" / "figure-7.md").read_text()


def test_check_command_fails_on_an_expected_item_that_regressed(mini_book, capsys):
    items = [{"item": "Figure 5", "notebook": "good", "quick": "yes", "expect": "reproduced"}]
    (mini_book / "book" / "items.yml").write_text(yaml.safe_dump(items))
    out = mini_book / book.EXECUTED
    out.mkdir(parents=True)
    (out / "claims.jsonl").write_text(json.dumps(_entry("good/x", "pass")) + "\n")
    assert main(["check", "--root", str(mini_book)]) == 0
    (out / "claims.jsonl").write_text(json.dumps(_entry("good/x", "fail")) + "\n")
    assert main(["check", "--root", str(mini_book)]) == 1
    assert "Figure 5: expected reproduced, got not reproduced" in capsys.readouterr().err


def test_check_command_without_a_build_is_a_clear_error(mini_book, capsys):
    assert main(["check", "--root", str(mini_book)]) == 2
    assert "run `seemlab book --profile quick` first" in capsys.readouterr().err


def test_scorecard_ignores_other_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEMLAB_CLAIMS_DIR", str(tmp_path))
    claims.check("n/a", 1.0, lo=0, item="Figure 5", statement="s", paper=1, profile="smoke")
    page = write_scorecard(ROOT, tmp_path, "quick", {}).read_text()
    assert "0 evidence checks" in page


def test_external_references_finds_remote_scripts_but_not_links(tmp_path):
    (tmp_path / "a.html").write_text('<a href="https://arxiv.org/abs/2310.04411">paper</a><script src="_static/x.js"></script>')
    (tmp_path / "b.html").write_text('<script defer="defer" src="https://cdn.example/mathjax.js"></script>')
    (tmp_path / "c.html").write_text("<link rel='stylesheet' href='//fonts.example/css'>")
    assert book.external_references(tmp_path) == ["b.html", "c.html"]


def test_book_cites_the_protocol_page_not_the_internal_spec():
    """Readers have no SPEC: no rendered page or notebook cell names it, and every
    {ref}`protocol-*` link points at a label that book/protocol.md defines."""
    import json
    import re

    labels = set(re.findall(r"^\((protocol[\w-]*)\)=\s*$", (ROOT / "book" / "protocol.md").read_text(), re.M))
    texts = {p.name: p.read_text() for p in sorted((ROOT / "book").glob("*.md"))}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for k, cell in enumerate(json.loads(path.read_text())["cells"]):
            texts[f"{path.name} cell {k}"] = "".join(cell["source"])
    spec = [where for where, text in texts.items() if "SPEC" in text]
    assert not spec, f"'SPEC' appears in {spec}"
    refs = {(where, m.group(2) or m.group(1)) for where, text in texts.items()
            for m in re.finditer(r"\{ref\}`([^`<]*?)\s*(?:<([^`>]+)>)?`", text)}
    missing = sorted((where, target) for where, target in refs if target.startswith("protocol") and target not in labels)
    assert not missing, f"protocol labels not defined in book/protocol.md: {missing}"
    assert len(labels) >= 40


def test_progress_lines_give_time_total_and_eta_from_the_last_build(mini_book):
    (mini_book / "notebooks" / "bad.ipynb").write_text((mini_book / "notebooks" / "good.ipynb").read_text())
    lines = io.StringIO()
    book.execute_all(mini_book, ["good", "bad"], "quick", {}, 1, out=lines)
    first = lines.getvalue().splitlines()
    assert first[0] == "seemlab book: start good"
    assert re.match(r"seemlab book: \[1/2\] good done in \d+ s; elapsed \d+:\d\d, ETA unknown", first[1])
    assert first[-1].endswith("all done")
    lines = io.StringIO()
    book.execute_all(mini_book, ["good", "bad"], "quick", {}, 1, out=lines)
    # now timed: the longer of the two starts first, and the ETA comes from the first build
    assert re.search(r"\[1/2\] (good|bad) done in \d+ s; elapsed \d+:\d\d, ETA \d+:\d\d$", lines.getvalue().splitlines()[1])


def _executed_like_papermill(path, injected):
    """A notebook as papermill leaves it: title, parameters, injected parameters, one more cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nThe claim."),
                nbformat.v4.new_code_cell('profile = "quick"\nseed = 0          # first seed\nwidth = None\n'
                                          'grid = (1,\n        2)', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("print(seed)")]
    nbformat.write(nb, path)


def test_finish_page_shows_used_values_and_hides_the_injected_cell(tmp_path):
    path = tmp_path / "toy.ipynb"
    _executed_like_papermill(path, '# Parameters\nprofile = "full"\nseed = 3\ngrid = (4, 5)\nextra = 0.9\n')
    params = {"profile": "full", "seed": "3", "grid": "(4, 5)", "extra": "0.9"}
    book.finish_page(path, "toy", params, tmp_path)
    book.finish_page(path, "toy", params, tmp_path)  # idempotent: one box, values set once
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "code", "code", "code"]
    assert cells[3].metadata.tags == ["injected-parameters", "remove-cell"]
    assert cells[2].source.splitlines() == [
        'profile = "full"  # this build; default "quick"',
        "seed = 3          # first seed (this build; default 0)",
        "width = None",
        "grid = (4, 5)  # this build; default (1, 2)",
        "extra = 0.9  # this build",
    ]


def test_regenerate_box_gives_the_papermill_command_version_and_commit(tmp_path):
    path = tmp_path / "toy.ipynb"
    _executed_like_papermill(path, '# Parameters\nprofile = "quick"\nseed = 100\n')
    book.finish_page(path, "toy", {"profile": "quick", "seed": "100"}, tmp_path)
    box = nbformat.read(path, as_version=4).cells[1]
    assert box.metadata.tags == [book.REGENERATE_TAG]
    assert "papermill notebooks/toy.ipynb toy.ipynb -p profile quick -p seed 100\n" in box.source
    assert "seemlab book --only toy --profile quick" in box.source
    assert "{download}`toy.ipynb <toy.ipynb>`" in box.source  # the executed notebook, beside the page
    assert f"seemlab {seemlab.__version__}, commit `unknown`" in box.source  # tmp_path is no checkout
    assert book.git_commit(ROOT) != "unknown"


def test_book_run_finishes_each_executed_page(mini_book):
    (mini_book / "notebooks" / "bad.ipynb").write_text((mini_book / "notebooks" / "good.ipynb").read_text())
    assert main(["book", "--root", str(mini_book), "--no-build", "--only", "good", "-p", "seed", "2"]) == 0
    cells = nbformat.read(mini_book / book.EXECUTED / "good.ipynb", as_version=4).cells
    assert cells[0].metadata.tags == [book.REGENERATE_TAG] and "-p profile quick" in cells[0].source
    assert 'profile = "quick"' in cells[1].source
    assert [c.metadata.tags for c in cells if "injected-parameters" in c.metadata.get("tags", [])] == [
        ["injected-parameters", "remove-cell"]]


def test_scorecard_shows_preconditions_apart_from_evidence():
    entries = [_entry("n/base", "fail", kind="precondition"), _entry("n/ln", "inconclusive")]
    page = scorecard_markdown(entries, ITEMS, "quick", {"n": 1.0})
    assert "1 evidence checks: **0 pass**, **0 fail**, **1 inconclusive**" in page
    assert "1 preconditions (0 hold)" in page and "precondition ✗" in page and "1 inconclusive" in page


def test_pages_offer_their_notebook_for_download_and_code_wraps():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["html"]["use_download_button"] is True  # sphinx-book-theme offers each page's .ipynb
    css = (ROOT / "book" / "_static" / "seemlab.css").read_text(encoding="utf-8")
    assert "white-space: pre-wrap" in css


def test_fast_pages_run_again_on_the_second_seed_block(mini_book, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell('profile = "quick"\nseed = 0', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from seemlab import claims\nclaims.check('good/x', 1.0, lo=0.5, item='Figure 5', "
                                          "statement='s', paper=1, profile=profile, seed=seed);")]
    nbformat.write(nb, mini_book / "notebooks" / "good.ipynb")
    monkeypatch.setattr(book, "SECOND_BLOCK_NOTEBOOKS", ("good",))
    timings = book.execute_all(mini_book, ["good"], "quick", {}, 2, out=io.StringIO())
    assert set(timings) == {"good", "second/good"}
    out = mini_book / book.EXECUTED
    assert (out / "good.ipynb").is_file() and (out / "second" / "good.ipynb").is_file()
    records = {e["block"]: e for e in claims.load(out / claims.CLAIMS_FILE)}
    assert records["main"]["seeds"] == [0] and records["second"]["seeds"] == [book.SECOND_BLOCK_SEED]
    assert records["main"]["blocks"] == ["main", "second"]
    assert book.execute_all(mini_book, ["good"], "quick", {"seed": "5"}, 1, out=io.StringIO()).keys() == {"good"}


def test_spec_mentions_finds_pages_citing_the_internal_spec(tmp_path):
    (tmp_path / "a.html").write_text("<p>see the protocol; specification and INSPECT are fine</p>")
    (tmp_path / "b.html").write_text("<p>as in SPEC §0.3</p>")
    assert book.spec_mentions(tmp_path) == ["b.html"]


def test_the_longest_pages_start_first_by_the_reference_timings(mini_book):
    (mini_book / "notebooks" / "bad.ipynb").write_text((mini_book / "notebooks" / "good.ipynb").read_text())
    (mini_book / "book" / book.TIMINGS_FILE).write_text(json.dumps({"quick": {"good": 1.0, "bad": 100.0}}))
    lines = io.StringIO()
    timings = book.execute_all(mini_book, ["good", "bad"], "quick", {}, 1, out=lines)
    assert lines.getvalue().splitlines()[0] == "seemlab book: start bad"
    assert list(timings) == ["good", "bad"]  # reported in the order of the table of contents
    assert "ETA 0:01" in lines.getvalue().splitlines()[1]  # only "good" is left, timed at 1 s


def test_check_command_refuses_to_check_nothing(mini_book, capsys):
    (mini_book / "book" / "items.yml").write_text(yaml.safe_dump([{"item": "Figure 5", "notebook": "good", "quick": "yes"}]))
    out = mini_book / book.EXECUTED
    out.mkdir(parents=True)
    (out / "claims.jsonl").write_text(json.dumps(_entry("good/x", "pass")) + "\n")
    assert main(["check", "--root", str(mini_book)]) == 2
    assert "expects no item reproduced" in capsys.readouterr().err


def test_every_notebook_figure_has_a_caption_a_name_and_alt_text():
    """myst-nb's keys, the same way on every page: ``mystnb: figure: caption/name`` numbers the
    figure and captions it, ``mystnb: image: alt`` gives it alt text."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            where = f"{path.name} cell {i}"
            assert not {"image", "figure"} & set(cell.metadata), f"{where}: put image/figure under mystnb"
            mystnb = cell.metadata.get("mystnb", {})
            if "figure" in mystnb:
                assert mystnb["figure"].get("caption") and mystnb["figure"].get("name", "").startswith("fig-"), where
                assert mystnb.get("image", {}).get("alt"), f"{where}: a figure without alt text"


def test_unfinished_pages_names_injected_cells_and_missing_boxes_or_downloads(tmp_path):
    pages = tmp_path / book.EXECUTED
    pages.mkdir(parents=True)
    box = '<div class="note regenerate admonition">'  # as Sphinx writes the box's classes
    link = '<a class="reference download internal" href="../../_downloads/0a1b/{}.ipynb">'
    (pages / "good.html").write_text(box + link.format("good"))
    (pages / "shown.html").write_text('<div class="cell tag_injected-parameters">' + box + link.format("shown"))
    (pages / "bare.html").write_text(link.format("other"))
    assert book.unfinished_pages(tmp_path, ["good", "shown", "bare", "gone"]) == [
        "shown: shows the injected-parameters cell", "bare: no regenerate box",
        "bare: no download link to bare.ipynb", "gone: no page"]
