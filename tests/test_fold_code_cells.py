"""scripts/fold_code_cells.py: plotting and long analysis cells fold; parameters, compute and
claim cells stay visible; only tags change and the file keeps nbformat's layout."""

import importlib.util
import json

import nbformat

from conftest import ROOT

spec = importlib.util.spec_from_file_location("fold_code_cells", ROOT / "scripts" / "fold_code_cells.py")
fold = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fold)


def _code(source, **metadata):
    return nbformat.v4.new_code_cell(source, metadata=metadata)


def test_which_cells_fold(tmp_path):
    long_analysis = "\n".join(f"x{i} = {i}" for i in range(fold.LONG + 1))
    long_compute = long_analysis + "\nres = runs.run_many(cfgs)"
    cells = [
        _code('profile = "quick"\n' + long_analysis, tags=["parameters"]),   # 0 parameters: visible
        _code("fig, axes = panels(2)\naxes[0].plot([1, 2])"),                 # 1 plot: folds
        _code("x = 1", mystnb={"figure": {"name": "fig-x", "caption": "c"}}),  # 2 figure cell: folds
        _code(long_analysis),                                                 # 3 long analysis: folds
        _code(long_compute),                                                  # 4 long compute: visible
        _code("claims.check('n/a', 1.0, lo=0.5)\nplt.plot([1])"),             # 5 claim cell: visible
        _code("y = toy.train(cfg)"),                                          # 6 short compute: visible
        nbformat.v4.new_markdown_cell("fig, axes = panels(2)"),               # 7 markdown: untouched
        _code("plt.show()", tags=["hide-input"]),                             # 8 already folded
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="kept\n")]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    before = json.loads(path.read_text())
    assert fold.main(["--check", str(path)]) == 1 and path.read_text() == json.dumps(before, indent=1, ensure_ascii=False) + "\n"
    assert fold.fold_file(path) == [1, 2, 3]
    assert fold.fold_file(path) == []  # idempotent
    after = json.loads(path.read_text())
    assert path.read_text() == nbformat.writes(nbformat.read(path, as_version=4)) + "\n"  # nbformat's layout
    for i, (old, new) in enumerate(zip(before["cells"], after["cells"])):
        assert old["source"] == new["source"] and old.get("outputs") == new.get("outputs")
        added = set(new["metadata"].get("tags", [])) - set(old["metadata"].get("tags", []))
        assert added == ({"hide-input"} if i in (1, 2, 3) else set()), i


def test_committed_notebooks_fold_their_plotting_cells():
    # A new plotting or long analysis cell fails here: run `python scripts/fold_code_cells.py`.
    assert {str(p.relative_to(ROOT)): fold.fold_file(p, write=False)
            for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if fold.fold_file(p, write=False)} == {}
