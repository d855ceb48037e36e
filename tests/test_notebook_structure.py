"""The structure check (tests/nbstructure.py) that every smoke and FULL execution passes: it
fails when a page loses or gains a figure, a cell or its claim table's verdicts, and ignores
numbers. Executions here are made up from the committed notebooks, so nothing runs twice."""

from __future__ import annotations

import base64
import copy

import nbformat
import pytest

from seemlab import book

from conftest import ROOT
from nbstructure import structure_diff

NOTEBOOKS = book.toc_notebooks(ROOT)
TABLE = "claim                paper      ours  verdict\nthm1/a            ≤ 0     {x}  pass\nthm1/b  1.0   {x}  identity\n"


def committed(name: str) -> nbformat.NotebookNode:
    return nbformat.read(str(ROOT / "notebooks" / f"{name}.ipynb"), as_version=4)


def executed_like(nb: nbformat.NotebookNode, number: float = 0.25) -> nbformat.NotebookNode:
    """What papermill would write for ``nb``: its injected-parameters cell, a printed number in
    every code cell, a PNG in each figure cell, a claim table where ``claims.rows`` is called."""
    out = copy.deepcopy(nb)
    out.cells.insert(2, nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["injected-parameters"]}))
    png = base64.b64encode(f"png {number}".encode()).decode()
    for i, cell in enumerate(out.cells):
        if cell.cell_type != "code":
            continue
        cell.execution_count = i
        cell.metadata["papermill"] = {"duration": number}
        text = TABLE.format(x=number) if "claims.rows(" in cell.source else f"max|Q| {number:.3g} after {i * 100} steps\n"
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        if "figure" in cell.metadata.get("mystnb", {}):
            cell.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": f"<Figure size {number}>"}))
    return out


def figure_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if "figure" in c.metadata.get("mystnb", {})]


def with_claim_table(name: str = "prop12_ntk_far_points") -> nbformat.NotebookNode:
    nb = committed(name)
    assert any("claims.rows(" in c.source for c in nb.cells), f"{name} no longer prints a claim table"
    return nb


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_an_execution_with_other_numbers_has_the_same_structure(name):
    nb = committed(name)
    assert figure_cells(nb), f"{name} names no figure"
    assert structure_diff(nb, executed_like(nb, 0.25)) == ""
    assert structure_diff(nb, executed_like(nb, 1234.5)) == ""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_lost_figure_fails(name):
    nb = committed(name)
    run = executed_like(nb)
    cell = run.cells[figure_cells(run)[-1]]
    cell.outputs = [o for o in cell.outputs if o.output_type != "display_data"]
    assert "deleted /cells" in structure_diff(nb, run)


def test_an_unnamed_extra_figure_fails():
    nb = committed(NOTEBOOKS[0])
    run = executed_like(nb)
    plain = next(c for c in run.cells if c.cell_type == "code" and "figure" not in c.metadata.get("mystnb", {}))
    plain.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": "AAAA"}))
    assert "<figure>" in structure_diff(nb, run)


def test_a_lost_cell_or_tag_fails():
    nb = committed(NOTEBOOKS[0])
    run = executed_like(nb)
    del run.cells[-1]
    assert structure_diff(nb, run)
    run = executed_like(nb)
    run.cells[1].metadata["tags"] = []  # the parameters cell
    assert "tags" in structure_diff(nb, run)


def test_an_error_output_fails():
    nb = committed(NOTEBOOKS[0])
    run = executed_like(nb)
    run.cells[-1].outputs.append(nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=[]))
    assert "NameError" in structure_diff(nb, run)


@pytest.mark.parametrize("table", [
    "",                                                     # no rows printed
    "claim  paper  ours  verdict\n",                       # a header, no rows
    "claim  paper  ours  verdict\nthm1/a  0  0.25  maybe\n",  # a row without a verdict
    "claim  paper  verdict\nthm1/a  0  pass\n",            # a column lost
])
def test_a_broken_claim_table_fails(table):
    nb = with_claim_table()
    run = executed_like(nb)
    cell = next(c for c in run.cells if "claims.rows(" in c.source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=table)]
    assert "claim table" in structure_diff(nb, run)
