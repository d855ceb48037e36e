"""Fold plotting and long analysis cells of the notebooks behind the book's "show code" toggle.

Usage: python scripts/fold_code_cells.py [--check] [notebooks/NAME.ipynb ...]   (default: all)

Adds the ``hide-input`` tag (myst-nb: the input folds, the output stays) to each code cell that
plots (it has a ``mystnb`` figure, or calls ``panels(`` or matplotlib) or that runs over
``LONG`` lines without computing the result, unless it records a claim. The parameters cell, the
cells that compute the result (calls into seemlab's runs, toy, analytic, ...) and the claim
cells stay visible. Only cell tags change: sources and outputs are left as they are, and each
file is re-read just before it is written, keeping nbformat's layout (indent 1, UTF-8, final
newline). Only ever adds the tag. ``--check`` writes nothing and exits 1 if a cell would change.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TAG = "hide-input"
LONG = 12
"""Cells with more non-blank lines than this fold, unless they compute the result or check it."""
KEEP_TAGS = {"parameters", "injected-parameters", "check-parameters", "remove-cell", "remove-input", TAG}
PLOTS = re.compile(r"\bpanels\(|\bplt\.|\bax(es)?(\[[^\]]*\])?\.(plot|semilogy|loglog|imshow|scatter|contourf?|bar|hist)\(")
COMPUTES = re.compile(r"\b(runs|toy|analytic|baird|theory|ntk|seem|nets|explore|diagnostics|rl)\.\w+\("
                      r"|\b(run_many|train_many|kernel_map\w*)\(")
CHECKS = re.compile(r"\bclaims\.")


def folds(cell: dict) -> bool:
    """Whether ``cell`` (a notebook cell as JSON) should carry the ``hide-input`` tag."""
    if cell.get("cell_type") != "code" or KEEP_TAGS & set(cell.get("metadata", {}).get("tags", [])):
        return False
    source = "".join(cell.get("source", []))
    if CHECKS.search(source):
        return False
    if "figure" in cell.get("metadata", {}).get("mystnb", {}) or PLOTS.search(source):
        return True
    long = sum(1 for line in source.splitlines() if line.strip()) > LONG
    return long and not COMPUTES.search(source)


def fold_file(path: Path, *, write: bool = True) -> list[int]:
    """Indices of the cells of ``path`` that gain the tag; writes the file when ``write``."""
    text = path.read_text(encoding="utf-8")  # read now, just before writing: others may edit too
    nb = json.loads(text)
    changed = [i for i, cell in enumerate(nb["cells"]) if folds(cell)]
    if not changed or not write:
        return changed
    for i in changed:
        meta = nb["cells"][i].setdefault("metadata", {})
        was_sorted = list(meta) == sorted(meta)
        meta.setdefault("tags", []).append(TAG)
        if was_sorted:  # nbformat writes keys sorted: put "tags" where it would
            nb["cells"][i]["metadata"] = dict(sorted(meta.items()))
    if path.read_text(encoding="utf-8") != text:
        raise RuntimeError(f"{path} changed while it was being folded; run again")
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted(Path("notebooks").glob("*.ipynb"))
    pending = 0
    for path in paths:
        cells = fold_file(path, write=not check)
        pending += len(cells)
        if cells:
            print(f"{path}: {'would fold' if check else 'folded'} cells {', '.join(map(str, cells))}")
    return 1 if check and pending else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
