"""Every notebook of the book runs at the smoke profile, and is committed clean."""

import json

import nbformat
import papermill
import pytest

from seemlab import book, claims

from conftest import ROOT
from nbstructure import structure_diff

NOTEBOOKS = book.toc_notebooks(ROOT)


def test_every_notebook_is_in_the_table_of_contents():
    on_disk = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert on_disk == set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_clean_with_parameters(name):
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "outputs must be stripped"
    params = code[0]
    assert "parameters" in params["metadata"].get("tags", []), "the first code cell must be tagged parameters"
    source = "".join(params["source"])
    assert 'profile = "quick"' in source and "seed = " in source


@pytest.mark.notebook
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_at_smoke(name, tmp_path, claims_dir, monkeypatch):
    monkeypatch.setenv(claims.NOTEBOOK_ENV, name)
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
        parameters={"profile": "smoke"}, cwd=str(ROOT), kernel_name="python3", progress_bar=False,
    )
    for entry in claims.load(claims_dir / claims.CLAIMS_FILE):
        assert entry["profile"] == "smoke" and entry["notebook"] == name
    executed = json.loads((tmp_path / f"{name}.ipynb").read_text())
    for cell in executed["cells"]:
        if "figure" in cell["metadata"].get("mystnb", {}):
            # A second output (an Axes repr, a second image) would give the book a duplicate figure name.
            kinds = [o["output_type"] for o in cell.get("outputs", []) if o["output_type"] != "stream"]
            assert kinds == ["display_data"], f"figure cell {cell['metadata']['mystnb']['figure']['name']}: {kinds}"
        # A claims call as a cell's last expression would print its record dict into the page.
        shown = ["".join(o["data"].get("text/plain", "")) for o in cell.get("outputs", []) if o["output_type"] == "execute_result"]
        assert not any("'claim_id'" in text for text in shown), f"a claim record is echoed: end the cell with ';'"
    # cells, tags, one figure per named figure cell, the claim table's columns: as committed (numbers ignored)
    diff = structure_diff(nbformat.read(str(ROOT / "notebooks" / f"{name}.ipynb"), as_version=4),
                          nbformat.read(str(tmp_path / f"{name}.ipynb"), as_version=4))
    assert not diff, f"{name} at smoke lacks the structure of the committed notebook:{diff}"


def test_bad_profile_fails_with_one_line_naming_allowed_values(tmp_path, claims_dir):
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "fig05_ntk_map.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"profile": "huge"}, cwd=str(ROOT), kernel_name="python3", progress_bar=False,
        )
    assert err.value.traceback == ["ParameterError: unknown profile 'huge'; allowed values: smoke, quick, full"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_title_has_no_tex_commands(name):
    # Links to a page ({doc}, the scorecard, the sidebar) show its title as plain text.
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    title = "".join(nb["cells"][0]["source"]).splitlines()[0]
    assert title.startswith("# ") and "\\" not in title, title
