"""Claim records: every paper claim checked by a notebook becomes one JSON line.

A check states its tolerance before it runs, records the paper's value, ours and the verdict,
and never raises: a failed claim is data, shown red on the book's scorecard.

Each record carries a ``verdict``, one of :data:`VERDICTS`:

- ``pass`` / ``fail``: a falsifiable check (``kind="check"``), or a precondition
  (``kind="precondition"``: "the baseline diverged"), which other checks require and which is not
  itself evidence for or against the paper;
- ``inconclusive``: a check whose precondition (``requires``: records that must pass, such as
  "the baseline diverged" before "LN stays bounded") did not hold;
- ``identity``: a numerical confirmation of a theorem or of a construction (``kind="identity"``):
  a sanity check, never evidence of reproduction; ``holds`` says whether it held;
- ``reported``: a number with no verdict (``kind="reported"``), and any check whose setting or
  tolerance was chosen on the very seeds it is computed on (``calibrated_on``).

``ok`` stays for compatibility: it is true only for ``pass``.

Records go to ``$SEEMLAB_CLAIMS_DIR/claims.jsonl``; without the variable, to the book's
generated folder of the enclosing checkout (``book/_executed``), else the working directory.
``$SEEMLAB_SEED_BLOCK`` names the seed block of the run: ``seemlab book`` sets ``main`` for its
own seeds and ``second`` for the second, disjoint block on which it runs fast notebooks again. A
notebook run by hand (papermill, Jupyter) records in block ``manual``, which the scorecard and
``seemlab check`` never read, so a rerun with other seeds cannot change the book's verdicts.
A FULL page run shrunk (``$SEEMLAB_SHRINK_FULL``, :mod:`seemlab.profiles`) records in block
``shrunk`` whatever the variables above say, marked ``"shrunk": true``: never evidence.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from seemlab.profiles import check_profile, shrunk

CLAIMS_ENV = "SEEMLAB_CLAIMS_DIR"
NOTEBOOK_ENV = "SEEMLAB_NOTEBOOK"
BLOCK_ENV = "SEEMLAB_SEED_BLOCK"
BLOCKS_ENV = "SEEMLAB_SEED_BLOCKS"
"""Comma-separated: every seed block on which the book runs this page (its checks must hold on each)."""
CLAIMS_FILE = "claims.jsonl"
MAIN_BLOCK = "main"
SECOND_BLOCK = "second"
MANUAL_BLOCK = "manual"
SHRUNK_BLOCK = "shrunk"
BOOK_BLOCKS = (MAIN_BLOCK, SECOND_BLOCK)
"""The seed blocks the book's scorecard reads."""

VERDICTS = ("pass", "fail", "inconclusive", "identity", "reported")
EVIDENCE = ("pass", "fail", "inconclusive")
KINDS = ("check", "precondition", "identity", "reported")
REQUIRED_FIELDS = ("claim_id", "item", "statement", "profile")


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
    profile: str,
    ok: bool | None = None,
    kind: str = "check",
    requires: dict | Iterable[dict] = (),
    seed: int | None = None,
    seeds: Iterable[int] | None = None,
    calibrated_on: Iterable[int] | None = None,
    soft: bool = False,
    notebook: str | None = None,
) -> dict:
    """Append one claim record and return it.

    ``paper`` and ``ours`` are numbers or short strings; ``tolerance`` says in words what ``ok``
    tested. ``kind`` is "check" (falsifiable: ``ok`` is its outcome), "precondition" (like a
    check, but what it tests is a condition for other checks, not a claim), "identity" (``ok`` says
    whether the identity held) or "reported" (no verdict; ``soft=True`` means the same).
    ``requires``: the records (as returned by this function, in this run) whose ``pass`` is the
    precondition of this check; otherwise its verdict is ``inconclusive``. ``seeds``: the seeds
    the verdict was computed on (default ``[seed]``). ``calibrated_on``: seeds on which the
    check's setting or tolerance was chosen; a verdict on any of them is only ``reported``.
    Claim ids are ``"<notebook>/<check>"``; the notebook defaults to the id's prefix.
    """
    check_profile(profile)
    kind = "reported" if soft else kind
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind != "reported" and ok is None:
        raise ValueError(f"claim {claim_id}: a {kind} needs ok=True or ok=False")
    seeds = [int(s) for s in seeds] if seeds is not None else ([] if seed is None else [int(seed)])
    requires = _as_list(requires)
    verdict, reason = _verdict(kind, ok, requires, seeds, calibrated_on)
    entry = {
        "claim_id": claim_id,
        "item": item,
        "statement": statement,
        "paper": _jsonable(paper),
        "ours": _jsonable(ours),
        "tolerance": tolerance,
        "verdict": verdict,
        "kind": kind,
        "reason": reason,
        "ok": verdict == "pass",
        "holds": None if kind == "reported" else bool(ok),
        "soft": kind == "reported",
        "requires": [r["claim_id"] for r in requires],
        "profile": profile,
        "seed": seed,
        "seeds": seeds,
        "block": current_block(),
        "blocks": [SHRUNK_BLOCK] if shrunk() else (os.environ.get(BLOCKS_ENV) or current_block()).split(","),
        "notebook": notebook or os.environ.get(NOTEBOOK_ENV) or claim_id.partition("/")[0],
    }
    if shrunk():
        entry["shrunk"] = True  # a FULL code path on smoke sizes: tests that it runs, says nothing of the paper
    append(claims_dir() / CLAIMS_FILE, entry)
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

    ``fields`` are passed on to :func:`record` (item, statement, paper, profile, seed, kind,
    requires, seeds, calibrated_on).
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


def _verdict(kind, ok, requires, seeds, calibrated_on) -> tuple[str, str | None]:
    """The verdict of a new record and, when it is not the plain outcome, why."""
    if kind in ("identity", "reported"):
        return kind, None
    unmet = [(r["claim_id"], verdict_of(r)) for r in requires if verdict_of(r) != "pass"]
    if unmet:
        return "inconclusive", "; ".join(f"precondition {cid} is {v}" for cid, v in unmet)
    tuned = sorted(set(seeds) & {int(s) for s in calibrated_on or ()})
    if tuned:
        return "reported", f"setting chosen on seed(s) {tuned}, the seeds it is computed on: not evidence"
    return ("pass" if ok else "fail"), None


def _as_list(requires) -> list[dict]:
    """The required records; a claim id is refused, since an old record of it could stand in."""
    found = [requires] if isinstance(requires, (dict, str)) else list(requires or ())
    if not all(isinstance(r, dict) for r in found):
        raise ValueError("requires takes the records that claims.record returned in this run, not claim ids")
    return found


def current_block() -> str:
    """The seed block new records belong to: ``shrunk`` in a shrunk run, else
    ``$SEEMLAB_SEED_BLOCK``, else ``manual``."""
    if shrunk():
        return SHRUNK_BLOCK
    return os.environ.get(BLOCK_ENV) or MANUAL_BLOCK


def rows(notebook: str, profile: str) -> list[dict]:
    """This notebook's latest records at ``profile`` in the current seed block, for its own table."""
    return [e for e in load() if e.get("notebook") == notebook and e["profile"] == profile
            and e.get("block", MAIN_BLOCK) == current_block()]


def is_evidence(entry: dict) -> bool:
    """Whether a record counts for or against the paper: a check that passed, failed or was
    inconclusive (preconditions, identities, reported values and shrunk runs do not)."""
    return entry.get("kind") != "precondition" and not entry.get("shrunk") and verdict_of(entry) in EVIDENCE


def verdict_of(entry: dict) -> str:
    """A record's verdict; records written before verdicts existed get theirs from ok/soft."""
    if entry.get("verdict") in VERDICTS:
        return entry["verdict"]
    if entry.get("soft"):
        return "reported"
    return "pass" if entry.get("ok") else "fail"


# ============================================================================ the claims file
def append(path: Path, entry: dict) -> None:
    """Append ``entry`` as one line, starting a new line first if the file ends without one
    (a writer killed mid-line must not swallow the next record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        os.write(fd, line)  # one write per record: concurrent appenders do not interleave
    except OSError as err:
        raise OSError(err.errno, f"cannot append a claim record to {path}: {err.strerror or err}") from err
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Unreadable:
    """A line of the claims file that is not a usable record."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path} line {self.line}: {self.reason}"


def read(path: Path | str | None = None) -> tuple[list[dict], list[Unreadable]]:
    """Every readable record of ``path`` in file order, and the lines that are not records.

    A malformed line or a record without a required field is skipped and reported, never fatal.
    """
    path = Path(path) if path else claims_dir() / CLAIMS_FILE
    if not path.exists():
        return [], []
    entries, bad = [], []
    text = path.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            bad.append(Unreadable(str(path), number, f"not JSON ({err.msg} at column {err.colno})"))
            continue
        missing = [f for f in REQUIRED_FIELDS if not isinstance(entry, dict) or f not in entry]
        if missing:
            bad.append(Unreadable(str(path), number, f"record lacks {', '.join(missing)}"))
            continue
        entries.append(entry)
    return entries, bad


def load(path: Path | str | None = None) -> list[dict]:
    """The last readable record per claim id, profile and seed block in ``path`` (default:
    :func:`claims_dir`); unreadable lines are skipped with one warning each."""
    entries, bad = read(path)
    for problem in bad:
        warnings.warn(f"skipped unreadable claim record: {problem}", stacklevel=2)
    return load_latest(entries)


def load_latest(entries: Iterable[dict]) -> list[dict]:
    """The last of ``entries`` per claim id, profile and seed block: a rerun supersedes."""
    latest: dict[tuple[str, str, str], dict] = {}
    for entry in entries:
        latest[entry["claim_id"], entry["profile"], entry.get("block", MAIN_BLOCK)] = entry
    return list(latest.values())


# ============================================================================ item status
STATUSES = ("reproduced", "partly", "not reproduced", "inconclusive", "not attempted")

STATUS_RULES = {
    "reproduced": "at least one evidence check, and every evidence check passes on every seed block the book "
                  "runs its page on (a block that did not run counts as inconclusive)",
    "partly": "some evidence checks pass and others fail or are inconclusive",
    "not reproduced": "no evidence check passes, and at least one fails",
    "inconclusive": "no evidence check fails or passes: every one is inconclusive, or the item has "
                    "only preconditions, identities and reported values",
    "not attempted": "no record at this profile",
}
"""The rule behind each item status; evidence checks are those with a pass, fail or
inconclusive verdict (preconditions, identities and reported values are not evidence)."""


def item_status(entries: Iterable[dict]) -> str:
    """The status of a paper item from all its records (every seed block) at one profile."""
    entries = list(entries)
    if not entries:
        return "not attempted"
    evidence = [verdict_of(e) for e in entries if is_evidence(e)] + ["inconclusive"] * len(missing_blocks(entries))
    if evidence and all(v == "pass" for v in evidence):
        return "reproduced"
    if "pass" in evidence:
        return "partly"
    if "fail" in evidence:
        return "not reproduced"
    return "inconclusive"


def missing_blocks(entries: list[dict]) -> list[tuple[str, str]]:
    """``(claim id, block)`` for every evidence check that did not run on a block its page runs on."""
    present = {(e.get("claim_id"), e.get("block", MAIN_BLOCK)) for e in entries}
    wanted = {(e.get("claim_id"), b) for e in entries if is_evidence(e) for b in e.get("blocks", ())}
    return sorted(wanted - present)


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
