"""scripts/check_book_browser.py's slider step: in headless Chromium, a mouse click on the
explorer's γ slider and on its LayerNorm toggle must redraw the figure; a page whose controls do
not redraw fails. Needs Chromium (skipped without it, as CI installs it)."""

import importlib.util
import shutil

import pytest

from seemlab.toy import explore

from conftest import ROOT

spec = importlib.util.spec_from_file_location("check_book_browser", ROOT / "scripts" / "check_book_browser.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
GRID = {"gamma": (0.9, 0.99), "width": (8,), "lr": (0.01, 0.3), "layernorm": (False, True)}


def _page(folder, script: str):
    """A page with the explorer of a small precomputed grid and ``script`` as its JavaScript."""
    data = explore.precompute(GRID, steps=60, seem_every=20, cache=False)
    (folder / "explorer.js").write_text(script, encoding="utf-8")
    (folder / "index.html").write_text('<!doctype html><html><head><meta charset="utf-8">'
                                       '<script src="explorer.js"></script></head><body>'
                                       f"{explore.explorer_html(data)}</body></html>", encoding="utf-8")


def _steps(folder):
    server, port = check.serve(folder)
    try:
        return check.explorer_steps(f"http://127.0.0.1:{port}/index.html")
    finally:
        server.shutdown()


def test_the_slider_and_the_toggle_redraw_the_explorer(tmp_path):
    _page(tmp_path, (ROOT / "book" / "_static" / "seemlab-explorer.js").read_text(encoding="utf-8"))
    assert _steps(tmp_path) == []


def test_an_explorer_that_does_not_redraw_fails_the_check(tmp_path):
    script = (ROOT / "book" / "_static" / "seemlab-explorer.js").read_text(encoding="utf-8")
    frozen = script.replace('inputs[n].addEventListener("input", redraw);', "").replace(
        'inputs[n].addEventListener("change", redraw);', "")
    assert frozen != script
    _page(tmp_path, frozen)
    problems = _steps(tmp_path)
    assert len(problems) == 2 and all("did not change" in p for p in problems)
