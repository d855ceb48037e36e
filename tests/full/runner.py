"""Run a notebook at ``profile="full"`` shrunk (:mod:`seemlab.profiles`): every FULL branch,
dataset loader and threshold, on smoke sizes."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat
import papermill

from seemlab import claims
from seemlab.profiles import SHRINK_ENV


def full_environment(data: dict[str, Path], claims_dir: Path, notebook: str) -> dict[str, str]:
    """The variables of a shrunk FULL run: FULL sizes shrunk, the local Minari folder, no hub."""
    return {SHRINK_ENV: "1", "MINARI_DATASETS_PATH": str(data["minari"]), "HF_HUB_OFFLINE": "1",
            claims.CLAIMS_ENV: str(claims_dir), claims.NOTEBOOK_ENV: notebook}


def run_full_shrunk(source: Path, out: Path, parameters: dict, cwd: Path) -> None:
    """Execute ``source`` into ``out`` at ``profile="full"`` with ``parameters`` (a smaller grid);
    the caller has set :func:`full_environment` (the kernel inherits it). Raises papermill's
    ``PapermillExecutionError`` naming the failing cell."""
    papermill.execute_notebook(str(source), str(out), parameters={"profile": "full", **parameters},
                               cwd=str(cwd), kernel_name="python3", progress_bar=False)


INJECTED_BUG = "name_defined_nowhere_injected_by_the_test"


def inject_full_only_bug(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with an undefined name as the first statement of its first FULL-only
    branch: the body of ``if profile == "full":`` or the ``else:`` of ``if profile != "full":``."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        where = _full_branch(cell.source) if cell.cell_type == "code" else None
        if where is not None:
            line, indent = where
            lines = cell.source.splitlines(keepends=True)
            lines.insert(line - 1, f"{' ' * indent}{INJECTED_BUG}\n")
            cell.source = "".join(lines)
            return out
    raise ValueError('no `if profile == "full"` / `if profile != "full"` branch in this notebook')


def _full_branch(source: str) -> tuple[int, int] | None:
    """Line and indentation of the first statement of ``source``'s first FULL-only branch."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and _compares_profile_to_full(node.test):
            op = node.test.ops[0]
            branch = node.body if isinstance(op, ast.Eq) else node.orelse if isinstance(op, ast.NotEq) else None
            if branch:
                return branch[0].lineno, branch[0].col_offset
    return None


def _compares_profile_to_full(test: ast.Compare) -> bool:
    sides = [test.left, *test.comparators]
    return (len(sides) == 2 and any(isinstance(s, ast.Name) and s.id == "profile" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "full" for s in sides))
