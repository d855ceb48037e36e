"""The book's scorecard page: every claim checked at the build's profile, the paper's value,
ours, the tolerance and the verdict, plus the paper items that have no check yet."""

from __future__ import annotations

from pathlib import Path

import yaml

from seemlab import claims

ITEMS = Path("book") / "items.yml"


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


def _verdict(entry: dict) -> str:
    word = "pass" if entry["ok"] else "fail"
    css = word + (" soft" if entry.get("soft") else "")
    return f'<span class="verdict {css}">{word}{" (soft)" if entry.get("soft") else ""}</span>'


def _page(nb: str | None, executed: set[str]) -> str:
    return f"{{doc}}`{nb}`" if nb in executed else f"`{nb}`"


def item_table(entries: list[dict], executed: set[str]) -> list[str]:
    """One row per paper item: how many checks, how many pass, which pages."""
    rows = ["| Item | Checks | Pass | Fail | Soft pass | Pages |", "|---|---|---|---|---|---|"]
    for item in dict.fromkeys(e["item"] for e in entries):
        mine = [e for e in entries if e["item"] == item]
        hard = [e for e in mine if not e.get("soft")]
        pages = ", ".join(_page(nb, executed) for nb in dict.fromkeys(e["notebook"] for e in mine))
        rows.append(f"| {_cell(item)} | {len(hard)} | {sum(e['ok'] for e in hard)} | "
                    f"{sum(not e['ok'] for e in hard)} | {sum(e['ok'] for e in mine if e.get('soft'))}"
                    f"/{len(mine) - len(hard)} | {pages} |")
    return rows


def claims_tables(entries: list[dict], executed: set[str]) -> list[str]:
    """A section per notebook: a table of its claims with paper value, ours and verdict."""
    lines: list[str] = []
    for nb in dict.fromkeys(e["notebook"] for e in entries):
        mine = [e for e in entries if e["notebook"] == nb]
        seeds = ", ".join(str(s) for s in dict.fromkeys(e.get("seed") for e in mine))
        lines += [f"### {_page(nb, executed)}", "", f"Seed parameter: {seeds}.", "",
                  "| Item | Claim | Paper | Ours | Tolerance | Verdict |", "|---|---|---|---|---|---|"]
        lines += [f"| {_cell(e['item'])} | {_cell(e['statement'])} | {_cell(e['paper'])} | {_cell(e['ours'])} "
                  f"| {_cell(e['tolerance'])} | {_verdict(e)} |" for e in mine]
        lines.append("")
    return lines


def coverage_table(items: list[dict], entries: list[dict]) -> list[str]:
    """Rows for the paper items that no claim at this profile covers yet."""
    covered = {e["item"] for e in entries}
    missing = [i for i in items if i["item"] not in covered]
    if not missing:
        return ["Every item of the paper has at least one check at this profile."]
    rows = ["| Item | Planned notebook | Can QUICK show it? |", "|---|---|---|"]
    rows += [f"| {_cell(i['item'])} | `{i['notebook']}` | {_cell(i['quick'])} |" for i in missing]
    return rows


def scorecard_markdown(entries: list[dict], items: list[dict], profile: str,
                       timings: dict[str, float]) -> str:
    """The whole scorecard page as MyST markdown."""
    hard = [e for e in entries if not e.get("soft")]
    soft = [e for e in entries if e.get("soft")]
    covered = {e["item"] for e in entries} & {i["item"] for i in items}
    lines = [
        "# Reproduction scorecard",
        "",
        f"Built at profile **{profile}**. {len(hard)} checks: **{sum(e['ok'] for e in hard)} pass**, "
        f"**{sum(not e['ok'] for e in hard)} fail**; {len(soft)} soft checks (reported, not asserted): "
        f"{sum(e['ok'] for e in soft)} pass. {len(covered)} of {len(items)} paper items have a check.",
        "",
        "Each tolerance was fixed before the check ran (see the SPEC); a failed check is a result, "
        "not an error, and its notebook page explains it.",
        "",
        "## By paper item",
        "",
        *item_table(entries, set(timings)),
        "",
        "## Claims, page by page",
        "",
        *claims_tables(entries, set(timings)),
        "## Not yet reproduced",
        "",
        *coverage_table(items, entries),
        "",
        "## Notebook execution times",
        "",
        "| Notebook | Seconds |",
        "|---|---|",
        *[f"| {{doc}}`{name}` | {seconds:.1f} |" for name, seconds in timings.items()],
        "",
    ]
    return "\n".join(lines)


def write_scorecard(root: Path, out_dir: Path, profile: str, timings: dict[str, float]) -> Path:
    """Write ``out_dir/scorecard.md`` from the claims recorded at ``profile``."""
    entries = [e for e in claims.load(out_dir / claims.CLAIMS_FILE) if e["profile"] == profile]
    items = yaml.safe_load((root / ITEMS).read_text(encoding="utf-8"))
    path = out_dir / "scorecard.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(scorecard_markdown(entries, items, profile, timings), encoding="utf-8")
    tmp.replace(path)
    return path
