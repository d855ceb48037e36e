"""``seemlab book``: execute every notebook of ``_toc.yml`` with papermill, write the
scorecard, then build the Jupyter Book with execution off and warnings as errors.

The book only renders. Each page under ``book/_executed/`` in the table of contents is the
notebook ``notebooks/<name>.ipynb`` executed at the chosen profile; the scorecard page is
written from the claims those executions record.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from seemlab import claims
from seemlab.files import write_text
from seemlab.profiles import PROFILES, check_profile

EXECUTED = Path("book") / "_executed"
SCORECARD = "scorecard"
SECOND_BLOCK = claims.SECOND_BLOCK
SECOND_BLOCK_SEED = 100
"""The second seed block starts here: disjoint from the book's seeds (0 and up, a handful per
page) and from the pilots' seeds (1000 and up)."""
SECOND_BLOCK_NOTEBOOKS = (
    "thm1_one_step", "fig02_sgd_crash", "fig10_sgd_crash_L3", "thm3_seem_sign_toy", "fig14_baird",
    "fig05_ntk_map", "prop12_ntk_far_points", "appG_deadly_triad_linearity",
)
"""Pages whose quick run takes under two minutes: the book runs them again with
``seed = SECOND_BLOCK_SEED``, and a check counts as reproduced only if it holds on both blocks."""


class NotebookFailed(RuntimeError):
    """A notebook raised while papermill executed it."""


def toc_notebooks(root: Path) -> list[str]:
    """Names of the notebooks that ``_toc.yml`` places under ``book/_executed/``, in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            entry = node.get("file")
            if entry and Path(entry).parent == EXECUTED and Path(entry).name != SCORECARD:
                names.append(Path(entry).name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    missing = [n for n in names if not (root / "notebooks" / f"{n}.ipynb").is_file()]
    if missing:
        raise ValueError(f"_toc.yml lists notebooks that do not exist in notebooks/: {', '.join(missing)}")
    return names


def notebook_parameters(path: Path) -> set[str]:
    """Names assigned in the cell tagged ``parameters`` (papermill's convention)."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def execute(root: Path, name: str, profile: str, overrides: dict[str, str], out_dir: Path,
            block: str | None = None) -> float:
    """Run ``notebooks/<name>.ipynb`` into ``out_dir`` with papermill; return seconds taken.

    Only overrides that the notebook declares are passed. ``block`` (e.g. ``"second"``) runs the
    notebook on that seed block instead: seed ``SECOND_BLOCK_SEED``, output in ``out_dir/<block>/``
    (outside the table of contents), claims marked with the block. Raises
    :class:`NotebookFailed` naming the notebook and its error.
    """
    source = root / "notebooks" / f"{name}.ipynb"
    target = out_dir / (block or "") / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    declared = notebook_parameters(source)
    params = {"profile": profile, **{k: v for k, v in overrides.items() if k in declared}}
    if block:
        params["seed"] = str(SECOND_BLOCK_SEED)
    cmd = [sys.executable, "-m", "papermill", str(source), str(target), "--no-progress-bar", "-k", "python3"]
    for key, value in params.items():
        cmd += ["-p", key, value]  # papermill turns "0.9" into a float, "3" into an int
    env = {**os.environ, claims.CLAIMS_ENV: str(out_dir), claims.NOTEBOOK_ENV: name}
    env[claims.BLOCK_ENV] = block or claims.MAIN_BLOCK
    two_blocks = name in SECOND_BLOCK_NOTEBOOKS and "seed" not in overrides
    env[claims.BLOCKS_ENV] = ",".join(claims.BOOK_BLOCKS if two_blocks else (claims.MAIN_BLOCK,))
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        where = f" (seed block {block})" if block else ""
        raise NotebookFailed(f"notebook {name}{where} failed: {_first_error(target, done.stderr)}")
    seconds = time.perf_counter() - start
    finish_page(target, name, params, root)
    return seconds


REGENERATE_TAG = "seemlab-regenerate"
"""Tag of the markdown cell, second on each executed page, that says how to regenerate it."""


def finish_page(executed: Path, name: str, params: dict[str, str], root: Path) -> None:
    """Make the executed notebook read as a page: the ``parameters`` cell shows the values this
    build used, papermill's ``injected-parameters`` cell is tagged ``remove-cell`` (hidden from
    the page, kept in the notebook), and a box after the title gives the papermill command that
    regenerates the page with the seemlab version and git commit behind it. Idempotent."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    injected = next((c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])), None)
    declared = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if injected is not None:
        tags = injected.metadata.setdefault("tags", [])
        if "remove-cell" not in tags:
            tags.append("remove-cell")
        if declared is not None:
            declared.source = show_parameters(declared.source, injected.source)
    nb.cells = [c for c in nb.cells if REGENERATE_TAG not in c.metadata.get("tags", [])]
    box = nbformat.v4.new_markdown_cell(regenerate_box(name, params, root), metadata={"tags": [REGENERATE_TAG]})
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, box)
    nbformat.write(nb, str(executed))


def show_parameters(defaults: str, injected: str) -> str:
    """The ``parameters`` cell's source with each assignment of ``injected`` (papermill's cell)
    put in place of the default, the default kept in a comment; names the cell does not assign
    are appended."""
    import ast

    values = {node.targets[0].id: ast.get_source_segment(injected, node.value)
              for node in ast.parse(injected).body
              if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)}
    lines = defaults.splitlines()
    for node in reversed(ast.parse(defaults).body):  # bottom up, so earlier line numbers stay valid
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        key = node.targets[0].id
        if key not in values:
            continue
        old = ast.get_source_segment(defaults, node.value)
        first, last = node.value.lineno - 1, node.value.end_lineno - 1
        head, tail = lines[first][:node.value.col_offset], lines[last][node.value.end_col_offset:]
        value = values.pop(key)
        if value != old:
            tail = f"{tail} (this build; default {' '.join(old.split())})" if "#" in tail \
                else f"{tail}  # this build; default {' '.join(old.split())}"
        lines[first:last + 1] = [head + value + tail]
    lines += [f"{key} = {value}  # this build" for key, value in values.items()]
    return "\n".join(lines)


def regenerate_box(name: str, params: dict[str, str], root: Path) -> str:
    """MyST for the box that gives the exact command regenerating page ``name`` of this build, and
    a link that downloads the executed notebook (``{download}``: Sphinx copies the page's own
    ``.ipynb``, which sits beside it in ``book/_executed/``, into the build)."""
    import shlex

    from seemlab import __version__

    flags = " ".join(f"-p {key} {shlex.quote(str(value))}" for key, value in params.items())
    extra = " ".join(f"-p {key} {shlex.quote(str(value))}" for key, value in params.items()
                     if key not in ("profile", "seed"))
    book_cmd = f"seemlab book --only {name} --profile {params.get('profile', 'quick')}" + (f" {extra}" if extra else "")
    return (":::{admonition} Regenerate this page\n:class: note regenerate\n\n"
            f"Built at profile `{params.get('profile', 'quick')}` by seemlab {__version__}, "
            f"commit `{git_commit(root)}`. This command executes the same notebook with the same parameters "
            "(the parameters cell below shows the values used):\n\n"
            f"```bash\npapermill notebooks/{name}.ipynb {name}.ipynb {flags}\n```\n\n"
            f"`{book_cmd}` executes it into the book instead. Download this page's executed notebook: "
            f"{{download}}`{name}.ipynb <{name}.ipynb>` (the download button at the top of the page offers it "
            "too); {doc}`/book/rerun` says more.\n:::")


def git_commit(root: Path) -> str:
    """``git rev-parse --short HEAD`` of ``root``, with ``-dirty`` appended when tracked files have
    local changes (as ``git describe --dirty`` does); ``"unknown"`` outside a checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0 or not head.stdout.strip():
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")


def _first_error(executed: Path, stderr: str) -> str:
    """``Ename: evalue`` of the first failing cell, else the last line papermill printed."""
    if executed.is_file():
        nb = json.loads(executed.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    return f"{output['ename']}: {output['evalue']}"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "papermill exited with an error"


def execute_all(
    root: Path, names: list[str], profile: str, overrides: dict[str, str], jobs: int, *, fresh: bool = True,
    out=sys.stdout,
) -> dict[str, float]:
    """Execute ``names`` with up to ``jobs`` papermill processes; fail on the first error.

    The pages of :data:`SECOND_BLOCK_NOTEBOOKS` among ``names`` run a second time on the second
    seed block (timed as ``"second/<name>"``). ``fresh`` starts a new claims file; otherwise new
    records supersede old ones by claim id. One line goes to ``out`` as each notebook starts and
    ends (see :class:`Progress`); the timings are kept for the next build's ETA.
    """
    out_dir = root / EXECUTED
    out_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        (out_dir / claims.CLAIMS_FILE).unlink(missing_ok=True)
    tasks = [(name, None) for name in names]
    tasks += [(name, SECOND_BLOCK) for name in names if name in SECOND_BLOCK_NOTEBOOKS and "seed" not in overrides]
    keys = [f"{block}/{name}" if block else name for name, block in tasks]
    # the last build's timings, else the reference timings committed with the book
    previous = previous_timings(out_dir, profile) or previous_timings(root / "book", profile)
    progress = Progress(keys, previous, jobs, out)

    def timed(key: str, name: str, block: str | None) -> float:
        progress.started(key)
        seconds = execute(root, name, profile, overrides, out_dir, block)
        progress.finished(key, seconds)
        return seconds

    longest_first = sorted(zip(keys, tasks), key=lambda kt: -previous.get(kt[0], 0.0))  # no long page left alone at the end
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {key: pool.submit(timed, key, name, block) for key, (name, block) in longest_first}
        timings = {key: futures[key].result() for key in keys}
    save_timings(out_dir, profile, timings)
    return timings


TIMINGS_FILE = "timings.json"


def previous_timings(folder: Path, profile: str) -> dict[str, float]:
    """Seconds per notebook of the build at ``profile`` whose timings are in ``folder`` (the last
    build's in ``book/_executed``, the reference ones committed in ``book``); empty if none."""
    try:
        return dict(json.loads((folder / TIMINGS_FILE).read_text(encoding="utf-8")).get(profile, {}))
    except (OSError, ValueError, AttributeError):
        return {}


def save_timings(out_dir: Path, profile: str, timings: dict[str, float]) -> None:
    path = out_dir / TIMINGS_FILE
    try:
        every = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        every = {}
    every[profile] = {**every.get(profile, {}), **timings}
    write_text(path, json.dumps(every, indent=1, sort_keys=True))


class Progress:
    """Prints a line as each notebook starts and ends: its time, the running total and an ETA.

    The ETA divides the previous build's timings of the notebooks still to run (their mean for
    one never timed) by the number of jobs; without an earlier build it says so."""

    def __init__(self, keys: list[str], previous: dict[str, float], jobs: int, out=sys.stdout):
        self.keys, self.previous, self.jobs, self.out = keys, previous, max(1, jobs), out
        self.start, self.done, self.lock = time.perf_counter(), {}, threading.Lock()

    def started(self, key: str) -> None:
        self._print(f"start {key}")

    def finished(self, key: str, seconds: float) -> None:
        with self.lock:
            self.done[key] = seconds
            line = (f"[{len(self.done)}/{len(self.keys)}] {key} done in {seconds:.0f} s; "
                    f"elapsed {_clock(time.perf_counter() - self.start)}, {self.eta()}")
        self._print(line)

    def eta(self) -> str:
        left = [k for k in self.keys if k not in self.done]
        if not left:
            return "all done"
        if not self.previous:
            return "ETA unknown (no earlier build to time against)"
        mean = sum(self.previous.values()) / len(self.previous)
        return f"ETA {_clock(sum(self.previous.get(k, mean) for k in left) / self.jobs)}"

    def _print(self, text: str) -> None:
        print(f"seemlab book: {text}", file=self.out, flush=True)


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def jupyter_book_build(root: Path) -> None:
    """``jupyter-book build`` with warnings as errors; raises if the build fails."""
    shutil.rmtree(root / "_build" / "html", ignore_errors=True)  # no stale pages from older builds
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe if exe.exists() else "jupyter-book"), "build", str(root), "--warningiserror", "--keep-going", "--quiet"]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"jupyter-book build failed:\n{tail}")


EXTERNAL = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)=["'](?:https?:)?//""", re.I)


SPEC_WORD = re.compile(r"\bSPEC\b")


def spec_mentions(html_dir: Path) -> list[str]:
    """Pages that cite the project's internal spec, which readers of the book do not have."""
    return sorted(str(p.relative_to(html_dir)) for p in html_dir.rglob("*.html")
                  if SPEC_WORD.search(p.read_text(encoding="utf-8", errors="replace")))


def external_references(html_dir: Path) -> list[str]:
    """Pages that load a script, style, image or frame from another host (the book must not)."""
    return sorted(str(p.relative_to(html_dir)) for p in html_dir.rglob("*.html")
                  if EXTERNAL.search(p.read_text(encoding="utf-8", errors="replace")))


def unfinished_pages(html_dir: Path, names: list[str]) -> list[str]:
    """Problems of the built notebook pages ``names``: a page that shows papermill's injected
    cell, or lacks its regenerate box or the link that downloads its notebook."""
    problems = []
    for name in names:
        page = html_dir / EXECUTED / f"{name}.html"
        html = page.read_text(encoding="utf-8", errors="replace") if page.is_file() else ""
        if not html:
            problems.append(f"{name}: no page")
            continue
        if "tag_injected-parameters" in html:
            problems.append(f"{name}: shows the injected-parameters cell")
        if not re.search(r'<div class="[^"]*\bregenerate\b[^"]*">', html):
            problems.append(f"{name}: no regenerate box")
        if not re.search(rf'href="[^"]*_downloads/[0-9a-f]+/{re.escape(name)}\.ipynb"', html):
            problems.append(f"{name}: no download link to {name}.ipynb")
    return problems


def parse_overrides(pairs: list[list[str]] | None) -> dict[str, str]:
    """``[["gamma", "0.9"], ...]`` from ``-p gamma 0.9`` flags; ``profile`` must use ``--profile``."""
    overrides = {key: value for key, value in (pairs or [])}
    if "profile" in overrides:
        raise ValueError("set the profile with --profile, not -p profile")
    return overrides


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    profile = check_profile(args.profile)
    overrides = parse_overrides(args.parameter)
    names = [n for n in toc_notebooks(root) if not args.only or n in args.only]
    if args.only and set(args.only) - set(names):
        raise ValueError(f"unknown notebook(s) {sorted(set(args.only) - set(names))}; in _toc.yml: {', '.join(toc_notebooks(root))}")
    try:
        timings = execute_all(root, names, profile, overrides, args.jobs, fresh=not args.only)
    except NotebookFailed as err:
        print(f"seemlab book: {err}", file=sys.stderr)
        return 1
    from seemlab.scorecard import write_scorecard

    write_scorecard(root, root / EXECUTED, profile, timings)
    if args.no_build:
        return 0
    try:
        jupyter_book_build(root)
    except RuntimeError as err:
        print(f"seemlab book: {err}", file=sys.stderr)
        return 1
    if leaks := external_references(root / "_build" / "html"):
        print(f"seemlab book: pages load resources from the network: {', '.join(leaks[:5])}", file=sys.stderr)
        return 1
    if cites := spec_mentions(root / "_build" / "html"):
        print(f"seemlab book: pages cite the internal spec (link the Protocol page instead): {', '.join(cites[:5])}",
              file=sys.stderr)
        return 1
    if unfinished := unfinished_pages(root / "_build" / "html", toc_notebooks(root)):
        print(f"seemlab book: notebook pages not finished: {'; '.join(unfinished[:5])}", file=sys.stderr)
        return 1
    print(f"book built at {root / '_build' / 'html' / 'index.html'}")
    return 0


def check(args: argparse.Namespace) -> int:
    """``seemlab check``: every item that ``book/items.yml`` expects reproduced still is.

    Reads the claims of the last ``seemlab book`` at ``--profile``; executes nothing."""
    from seemlab.scorecard import load_items, regressions

    root = Path(args.root).resolve()
    profile = check_profile(args.profile)
    path = root / EXECUTED / claims.CLAIMS_FILE
    if not path.is_file():
        raise ValueError(f"no claims at {path}: run `seemlab book --profile {profile}` first")
    entries = [e for e in claims.load(path) if e["profile"] == profile and e.get("block", claims.MAIN_BLOCK) in claims.BOOK_BLOCKS]
    if not entries:
        raise ValueError(f"{path} holds no claim at profile {profile!r}: run `seemlab book --profile {profile}` first")
    items = load_items(root)
    expected = sum(1 for i in items if i.get("expect"))
    if not expected:
        raise ValueError(f"{root / 'book' / 'items.yml'} expects no item reproduced: there is nothing to check")
    failed = regressions(items, entries)
    for line in failed:
        print(f"seemlab check: {line}", file=sys.stderr)
    print(f"seemlab check: {expected - len(failed)} of {expected} items keep their expected status at {profile}")
    return 1 if failed else 0


def add_parser(subparsers) -> None:
    checker = subparsers.add_parser("check", help="fail when an item expected reproduced is not",
                                    description=check.__doc__)
    checker.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    checker.add_argument("--root", default=".", help="the repository root (default: .)")
    checker.set_defaults(func=check)
    parser = subparsers.add_parser("book", help="execute the notebooks and build the book", description=__doc__)
    parser.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="override a notebook parameter in every notebook that declares it")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="execute only these notebooks")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")
    parser.add_argument("--no-build", action="store_true", help="execute and write the scorecard only")
    parser.add_argument("--root", default=".", help="the repository root (default: .)")
    parser.set_defaults(func=run)

