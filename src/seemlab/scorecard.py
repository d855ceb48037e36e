"""The book's scorecard page, the item statuses the chapter pages include, and the check that
items marked reproducible stay reproduced.

Every claim checked at the build's profile is listed with the paper's value, ours, the
tolerance, its verdict and the seeds behind it, on each seed block the book ran. Each paper item
gets a status by the rules of :data:`seemlab.claims.STATUS_RULES`; the summary counts evidence
checks only (identities and reported values are listed apart).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from seemlab import claims
from seemlab.files import write_text
from seemlab.claims import EVIDENCE, MAIN_BLOCK, STATUS_RULES, STATUSES, is_evidence, item_status, verdict_of

ITEMS = Path("book") / "items.yml"
STATUS_DIR = "status"
LABEL = "scorecard"
"""The page's MyST label: chapters link to it with {ref}`scorecard`."""


def load_items(root: Path) -> list[dict]:
    """``book/items.yml``: every paper item, its notebook, what QUICK can show, and ``expect``
    (the status the item must keep at quick, checked by ``seemlab check``)."""
    return yaml.safe_load((root / ITEMS).read_text(encoding="utf-8"))


def slug(item: str) -> str:
    """``"Figure 19"`` -> ``"figure-19"``: the file name of an item's status sentence."""
    return re.sub(r"[^a-z0-9]+", "-", item.lower(), flags=re.ASCII).strip("-") or "item"


# ============================================================================ cells
def _cell(value) -> str:
    """A table cell: numbers to 4 significant digits, pipes escaped, long lists shortened."""
    if isinstance(value, bool) or value is None:
        text = "—" if value is None else str(value)
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, list):
        shown = ", ".join(_cell(v) for v in value[:8])
        text = f"[{shown}{', …' if len(value) > 8 else ''}]"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _seeds(entries: list[dict]) -> str:
    """The seeds behind ``entries`` as ranges: ``0–2, 100–102``."""
    seeds = sorted({int(s) for e in entries for s in _seed_list(e)})
    if not seeds:
        return "—"
    spans = [[seeds[0], seeds[0]]]
    for s in seeds[1:]:
        if s == spans[-1][1] + 1:
            spans[-1][1] = s
        else:
            spans.append([s, s])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def _seed_list(entry: dict) -> list:
    if entry.get("seeds"):
        return entry["seeds"]
    return [] if entry.get("seed") is None else [entry["seed"]]


def _verdict(entry: dict | None) -> str:
    if entry is None:
        return "—"
    word = verdict_of(entry)
    shown = word
    if word == "identity":
        shown = "identity ✓" if entry.get("holds", entry.get("ok")) else "identity ✗"
    elif entry.get("kind") == "precondition":
        word, shown = "precondition", ("precondition ✓" if word == "pass" else "precondition ✗")
    title = f' title="{_cell(entry["reason"])}"' if entry.get("reason") else ""
    return f'<span class="verdict {word}"{title}>{shown}</span>'


def _page(nb: str | None, executed: set[str]) -> str:
    return f"{{doc}}`{nb}`" if nb in executed else f"`{nb}`"


def _blocks(entries: list[dict]) -> list[str]:
    """Seed blocks present, the book's own first."""
    found = dict.fromkeys(e.get("block", MAIN_BLOCK) for e in entries)
    return sorted(found, key=lambda b: (b != MAIN_BLOCK, b))


# ============================================================================ tables
def item_rows(items: list[dict], entries: list[dict]) -> list[tuple[dict, str, list[dict]]]:
    """``(item, status, its records)`` for every paper item, in the order of ``items.yml``."""
    return [(i, item_status(mine), mine) for i in items for mine in [[e for e in entries if e["item"] == i["item"]]]]


def item_table(items: list[dict], entries: list[dict], executed: set[str]) -> list[str]:
    """One row per paper item: its status, evidence counts, identities, reported values, seeds."""
    rows = ["| Item | Status | Evidence: pass / fail / inconclusive | Preconditions, identities, reported | Seeds | Pages |",
            "|---|---|---|---|---|---|"]
    for item, status, mine in item_rows(items, entries):
        v = [verdict_of(e) for e in mine if is_evidence(e)]
        other = [verdict_of(e) if e.get("kind") != "precondition" else "precondition" for e in mine if not is_evidence(e)]
        pages = ", ".join(_page(nb, executed) for nb in dict.fromkeys(e["notebook"] for e in mine)) or f"`{item['notebook']}`"
        rows.append(f"| {_cell(item['item'])} | <span class=\"status {slug(status)}\">{status}</span> | "
                    f"{v.count('pass')} / {v.count('fail')} / {v.count('inconclusive')} | "
                    f"{other.count('precondition')}, {other.count('identity')}, {other.count('reported')} | "
                    f"{_seeds(mine)} | {pages} |")
    return rows


def claims_tables(entries: list[dict], executed: set[str], order: list[str] = ()) -> list[str]:
    """A section per notebook, in ``order`` (the table of contents) where it names them: its
    claims with paper value, tolerance, and ours, verdict and seeds on each seed block."""
    lines: list[str] = []
    rank = {nb: i for i, nb in enumerate(order)}
    for nb in sorted(dict.fromkeys(e["notebook"] for e in entries), key=lambda nb: rank.get(nb, len(rank))):
        mine = [e for e in entries if e["notebook"] == nb]
        blocks = _blocks(mine)
        head = "| Item | Claim | Paper | Tolerance |" + "".join(
            f" Ours{_block_name(b)} | Verdict{_block_name(b)} | Seeds{_block_name(b)} |" for b in blocks)
        lines += [f"### {_page(nb, executed)}", "", head, "|" + "---|" * (4 + 3 * len(blocks))]
        for claim_id in dict.fromkeys(e["claim_id"] for e in mine):
            by_block = {e.get("block", MAIN_BLOCK): e for e in mine if e["claim_id"] == claim_id}
            first = next(iter(by_block.values()))
            statement = _cell(first["statement"]) + (" *(seed-fragile: the blocks disagree)*" if _fragile(by_block) else "")
            row = f"| {_cell(first['item'])} | {statement} | {_cell(first['paper'])} | {_cell(first['tolerance'])} |"
            for b in blocks:
                e = by_block.get(b)
                row += f" {_cell(e['ours']) if e else '—'} | {_verdict(e)} | {_seeds([e]) if e else '—'} |"
            lines.append(row)
        lines.append("")
    return lines


def _fragile(by_block: dict[str, dict]) -> bool:
    """A check whose evidence verdicts differ between seed blocks."""
    verdicts = {verdict_of(e) for e in by_block.values()}
    return len(by_block) > 1 and len(verdicts) > 1 and verdicts <= set(EVIDENCE)


def fragile_count(entries: list[dict]) -> int:
    """How many checks flip between seed blocks."""
    by_claim: dict[str, dict[str, dict]] = {}
    for e in entries:
        by_claim.setdefault(e["claim_id"], {})[e.get("block", MAIN_BLOCK)] = e
    return sum(_fragile(blocks) for blocks in by_claim.values())


def _block_name(block: str) -> str:
    return "" if block == MAIN_BLOCK else f" ({block} block)"


def not_attempted(items: list[dict], entries: list[dict]) -> list[str]:
    """Rows for the paper items that no claim at this profile covers yet."""
    covered = {e["item"] for e in entries}
    missing = [i for i in items if i["item"] not in covered]
    if not missing:
        return ["Every item of the paper has at least one record at this profile."]
    rows = ["| Item | Planned notebook | Can QUICK show it? |", "|---|---|---|"]
    rows += [f"| {_cell(i['item'])} | `{i['notebook']}` | {_cell(i['quick'])} |" for i in missing]
    return rows


def summary(entries: list[dict], items: list[dict], profile: str) -> str:
    verdicts = [verdict_of(e) for e in entries]
    evidence = [verdict_of(e) for e in entries if is_evidence(e)]
    preconditions = [e for e in entries if e.get("kind") == "precondition"]
    statuses = [status for _, status, _ in item_rows(items, entries)]
    held = sum(1 for e in entries if verdict_of(e) == "identity" and e.get("holds", e.get("ok")))
    by_status = ", ".join(f"{statuses.count(s)} {s}" for s in STATUSES if statuses.count(s))
    return (f"Built at profile **{profile}**. Paper items: {by_status} (of {len(items)}). "
            f"{len(evidence)} evidence checks: **{evidence.count('pass')} pass**, **{evidence.count('fail')} fail**, "
            f"**{evidence.count('inconclusive')} inconclusive**. Apart from these: {len(preconditions)} "
            f"preconditions ({sum(e['ok'] for e in preconditions)} hold), {verdicts.count('identity')} "
            f"identities (sanity checks, {held} hold) and {verdicts.count('reported')} reported values."
            + (f" {n} checks are seed-fragile: their verdicts differ between the two seed blocks."
               if (n := fragile_count(entries)) else ""))


def scorecard_markdown(entries: list[dict], items: list[dict], profile: str, timings: dict[str, float],
                       unreadable: list | None = None) -> str:
    """The whole scorecard page as MyST markdown. Items marked ``paper: false`` in ``items.yml``
    (seemlab's own questions, beyond the paper) get their own table and are not counted in the
    summary of the paper's items."""
    executed = set(timings)
    beyond = [i for i in items if not i.get("paper", True)]
    items = [i for i in items if i.get("paper", True)]
    beyond_names = {i["item"] for i in beyond}
    paper_entries = [e for e in entries if e["item"] not in beyond_names]
    lines = [
        f"({LABEL})=",
        "# Reproduction scorecard",
        "",
        summary(paper_entries, items, profile),
        "",
        *([f"**{len(unreadable)} unreadable record{'s' if len(unreadable) > 1 else ''} in "
           f"{claims.CLAIMS_FILE}** (skipped): " + "; ".join(f"line {u.line}: {_cell(u.reason)}" for u in unreadable), ""]
          if unreadable else []),
        "Each tolerance was fixed before its check ran (the {ref}`protocol` says when and on which "
        "seeds). A failed check is a result, not an error, and its page explains it.",
        "",
        "**Verdicts.** *pass* / *fail*: a falsifiable check. *inconclusive*: the check's precondition "
        "(for example \"the baseline diverged\" before \"LayerNorm stays bounded\") did not hold. "
        "A *precondition* (such as \"the baseline diverged\") is checked like a claim but is not itself "
        "evidence for or against the paper. *identity*: a numerical confirmation of a theorem or of a construction, a sanity check that is "
        "never counted as evidence. *reported*: a number without a verdict, or a check whose setting "
        "was chosen on the very seeds it ran on. Evidence checks are those that pass, fail or are "
        "inconclusive. Fast pages run twice, on the book's seeds and on a second, disjoint block of "
        "seeds; both verdicts are shown and both count.",
        "",
        "**Item status**, by rule:",
        "",
        *[f"- *{status}*: {rule}." for status, rule in STATUS_RULES.items()],
        "",
        "## By paper item",
        "",
        *item_table(items, paper_entries, executed),
        "",
        *(["## Beyond the paper", "",
           "seemlab's own questions, not claims of the paper; their checks are not counted in the summary above.",
           "", *item_table(beyond, entries, executed), ""] if beyond else []),
        "## Claims, page by page",
        "",
        *claims_tables(entries, executed, list(timings)),
        "## Not attempted",
        "",
        *not_attempted(items, entries),
        "",
        "## Notebook execution times",
        "",
        "| Notebook | Seconds |",
        "|---|---|",
        *[f"| {_page(name, executed) if '/' not in name else f'`{name}`'} | {seconds:.1f} |" for name, seconds in timings.items()],
        "",
    ]
    return "\n".join(lines)


# ============================================================================ files
def status_sentence(item: str, status: str, mine: list[dict], profile: str) -> str:
    """The one sentence a chapter page shows about ``item``: its status and the counts behind it."""
    evidence = [verdict_of(e) for e in mine if is_evidence(e)]
    counts = (f"{evidence.count('pass')} of {len(evidence)} evidence checks pass"
              + (f", {evidence.count('inconclusive')} inconclusive" if "inconclusive" in evidence else "")
              if evidence else "no evidence check")
    return (f"**{item}: {status}** at the {profile} profile ({counts}; seeds {_seeds(mine)}; "
            f"see the {{ref}}`{LABEL}`).")


def write_status(out_dir: Path, items: list[dict], entries: list[dict], profile: str) -> None:
    """``out_dir/status/<item slug>.md``: each item's status sentence, for chapters to include."""
    folder = out_dir / STATUS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for item, status, mine in item_rows(items, entries):
        write_text(folder / f"{slug(item['item'])}.md", status_sentence(item["item"], status, mine, profile) + "\n")


def write_scorecard(root: Path, out_dir: Path, profile: str, timings: dict[str, float]) -> Path:
    """Write ``out_dir/scorecard.md`` and the status sentences from the claims recorded at ``profile``."""
    records, unreadable = claims.read(out_dir / claims.CLAIMS_FILE)
    entries = [e for e in claims.load_latest(records)
               if e["profile"] == profile and e.get("block", MAIN_BLOCK) in claims.BOOK_BLOCKS]  # not hand-run pages
    items = load_items(root)
    write_status(out_dir, items, entries, profile)
    path = out_dir / "scorecard.md"
    write_text(path, scorecard_markdown(entries, items, profile, timings, unreadable))
    return path


def regressions(items: list[dict], entries: list[dict]) -> list[str]:
    """Items whose ``expect`` status in ``items.yml`` is not their status in ``entries``."""
    return [f"{item['item']}: expected {item['expect']}, got {status}"
            for item, status, _ in item_rows(items, entries) if item.get("expect") and status != item["expect"]]
