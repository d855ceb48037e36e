"""A page's structure, numbers ignored: an executed notebook against what its committed notebook
promises, compared with pytest-notebook's notebook diff (nbdime) and shown as its diff.

The committed notebook (no outputs) promises its cells (order, types, sources, tags), exactly
one figure in each cell whose metadata names a ``mystnb`` figure and none anywhere else (an
unnamed figure has no caption and no number in the book), and, in a cell that calls
``claims.rows``, a claim table whose header has the scorecard's columns and whose every row ends
in a verdict. The executed notebook is reduced to the same outline (papermill's injected cell
dropped, each image one placeholder, the claim table to its header and whether every row has a
verdict) so that nothing a number changes can differ.
"""

from __future__ import annotations

import copy

import nbformat
from pytest_notebook.diffing import diff_notebooks, diff_to_string, filter_diff

from seemlab.claims import VERDICTS

IGNORED = ("/metadata", "/nbformat", "/nbformat_minor", "/cells/*/id", "/cells/*/execution_count",
           "/cells/*/metadata/papermill", "/cells/*/metadata/execution")
"""What an execution adds that is no part of a page's structure."""
TABLE_COLUMNS = ("claim", "paper", "ours", "verdict")
"""Columns every claim table shows, in this order (a page may add others, e.g. the item)."""
INJECTED = "injected-parameters"


def structure_diff(committed: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> str:
    """Empty when ``executed`` has the structure ``committed`` promises, else the diff
    (``--- expected`` / ``+++ obtained``)."""
    want, got = expected(committed), obtained(executed)
    found = filter_diff(diff_notebooks(want, got), list(IGNORED))
    return diff_to_string(want, found, use_color=False) if found else ""


def expected(committed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``committed`` with the outputs its structure promises, in outline."""
    nb = _cells_only(committed)
    for cell in nb.cells:
        if cell.cell_type == "code":
            figures = 1 if "figure" in cell.metadata.get("mystnb", {}) else 0
            cell.outputs = [_figure()] * figures + ([_table(TABLE_COLUMNS, True)] if _is_claim_table(cell) else [])
    return nb


def obtained(executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``executed`` in outline: per code cell, its errors, one placeholder per image, and for the
    claim table its header and whether each row ends in a verdict."""
    nb = _cells_only(executed)
    nb.cells = [c for c in nb.cells if INJECTED not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            outputs = cell.get("outputs", [])
            errors = [nbformat.v4.new_output("error", ename=o.ename, evalue=o.evalue, traceback=[])
                      for o in outputs if o.output_type == "error"]
            figures = [_figure() for o in outputs if any(k.startswith("image/") for k in o.get("data", {}))]
            table = [_claim_table(outputs)] if _is_claim_table(cell) else []
            cell.outputs = errors + figures + table
    return nb


def _cells_only(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose cells keep type, source and tags only."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        tags = list(cell.metadata.get("tags", []))
        mystnb = cell.metadata.get("mystnb")
        cell.metadata = nbformat.NotebookNode({"tags": tags} | ({"mystnb": mystnb} if mystnb else {}))
        if cell.cell_type == "code":
            cell.execution_count = None
    return out


def _is_claim_table(cell) -> bool:
    return cell.cell_type == "code" and "claims.rows(" in cell.source


def _figure():
    return nbformat.v4.new_output("display_data", data={"text/plain": "<figure>"})


def _table(columns, every_row_has_verdict: bool):
    text = f"claim table: columns {' '.join(columns)}; " + (
        "every row ends in a verdict" if every_row_has_verdict else "no rows, or a row without a verdict")
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _claim_table(outputs) -> nbformat.NotebookNode:
    """The claim table printed by a cell: its header's columns (the standard ones if present) and
    whether it has rows, each ending in a verdict."""
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stdout")
    lines = [line.split() for line in text.splitlines() if line.strip()]
    header = lines[0] if lines else []
    standard = [c for c in header if c in TABLE_COLUMNS] == list(TABLE_COLUMNS)
    rows = lines[1:]
    return _table(TABLE_COLUMNS if standard else header, bool(rows) and all(r[-1] in VERDICTS for r in rows))
