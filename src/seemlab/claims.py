"""Claim records: every paper claim checked by a notebook becomes one JSON line.

A check states its tolerance before it runs, records the paper's value, ours and the verdict,
and never raises: a failed claim is data, shown red on the book's scorecard.

Records go to ``$SEEMLAB_CLAIMS_DIR/claims.jsonl``; without the variable, to the book's
generated folder of the enclosing checkout (``book/_executed``), else the working directory.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from seemlab.profiles import check_profile

CLAIMS_ENV = "SEEMLAB_CLAIMS_DIR"
NOTEBOOK_ENV = "SEEMLAB_NOTEBOOK"
CLAIMS_FILE = "claims.jsonl"


def claims_dir() -> Path:
    """Where claim records are appended (see the module docstring)."""
    if os.environ.get(CLAIMS_ENV):
        return Path(os.environ[CLAIMS_ENV])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "book").is_dir():
            return folder / "book" / "_executed"
    return here


def record(
    claim_id: str,
    *,
    item: str,
    statement: str,
    paper: Any,
    ours: Any,
    tolerance: str,
    ok: bool,
    profile: str,
    seed: int | None = None,
    soft: bool = False,
    notebook: str | None = None,
) -> dict:
    """Append one claim record and return it.

    ``paper`` and ``ours`` are numbers or short strings; ``tolerance`` says in words what
    ``ok`` tested; ``soft`` marks checks the SPEC reports rather than asserts. Claim ids are
    ``"<notebook>/<check>"``; the notebook defaults to the id's prefix.
    """
    check_profile(profile)
    entry = {
        "claim_id": claim_id,
        "item": item,
        "statement": statement,
        "paper": _jsonable(paper),
        "ours": _jsonable(ours),
        "tolerance": tolerance,
        "ok": bool(ok),
        "soft": bool(soft),
        "profile": profile,
        "seed": seed,
        "notebook": notebook or os.environ.get(NOTEBOOK_ENV) or claim_id.partition("/")[0],
    }
    folder = claims_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # One write per line keeps concurrent appenders from interleaving records.
    with open(folder / CLAIMS_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, allow_nan=False) + "\n")
    return entry


def check(
    claim_id: str,
    ours: float,
    *,
    lo: float | None = None,
    hi: float | None = None,
    **fields: Any,
) -> dict:
    """Record whether ``lo <= ours <= hi`` (either bound may be open); NaN never passes.

    ``fields`` are passed on to :func:`record` (item, statement, paper, profile, seed, soft).
    """
    if lo is None and hi is None:
        raise ValueError("check needs at least one of lo, hi")
    value = float(ours)
    ok = not math.isnan(value)
    if lo is not None:
        ok = ok and value >= lo
    if hi is not None:
        ok = ok and value <= hi
    return record(claim_id, ours=value, tolerance=_bounds_text(lo, hi), ok=ok, **fields)


def load(path: Path | str | None = None) -> list[dict]:
    """All records in ``path`` (default: :func:`claims_dir`), the last one per claim id and profile."""
    path = Path(path) if path else claims_dir() / CLAIMS_FILE
    if not path.exists():
        return []
    latest: dict[tuple[str, str], dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            latest[entry["claim_id"], entry["profile"]] = entry
    return list(latest.values())


def _bounds_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g} ≤ ours ≤ {hi:g}"
    return f"ours ≥ {lo:g}" if lo is not None else f"ours ≤ {hi:g}"


def _jsonable(value: Any) -> Any:
    """Numbers, strings, bools, None and lists of them; non-finite floats become strings."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)
