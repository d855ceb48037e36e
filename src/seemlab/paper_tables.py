"""The paper's AntMaze tables (Tables 1, 2, 4 and 5) as constants, their transcription checks and
their rendering as Markdown, so the notebook that compares our runs with them stays thin.

Numbers are normalized scores (100 × success rate). Table 1's TD3+BC, IQL, MSG and sfBC columns
are quoted by the paper without a stated source or protocol: they are rendered, never checked.
Table 2 leaves Diffusion-QL's umaze-diverse average blank ("—", best 84.0); its column average
29.6 uses Table 1's 69.5 there, which :data:`TABLE2` therefore carries, with a footnote.
"""

from __future__ import annotations

import html

import numpy as np

TASKS = ("umaze", "umaze-diverse", "medium-play", "medium-diverse", "large-play", "large-diverse")

TABLE1_COLUMNS = ("TD3+BC", "IQL", "MSG", "sfBC", "diff-QL", "ours")
TABLE1 = {  # task: (TD3+BC, IQL, MSG, sfBC, diff-QL, ours)
    "umaze": (40.2, 87.5, 98.6, 93.3, 95.6, 94.3),
    "umaze-diverse": (58.0, 62.2, 76.7, 86.7, 69.5, 88.5),
    "medium-play": (0.2, 71.2, 83.0, 88.3, 0.0, 85.6),
    "medium-diverse": (0.0, 70.0, 83.0, 90.0, 6.4, 83.9),
    "large-play": (0.0, 39.6, 46.8, 63.3, 1.6, 65.4),
    "large-diverse": (0.0, 47.5, 58.2, 41.7, 4.4, 67.1),
}
"""Table 1: the mean of the last 10 evaluations over 10 seeds (Diffusion-QL: the paper's rerun)."""
TABLE1_STD = {"umaze": 0.5, "umaze-diverse": 6.1, "medium-play": 1.7, "medium-diverse": 1.6, "large-play": 8.6,
              "large-diverse": 1.8}
"""Table 1: the ± std of "ours"."""
TABLE1_BEST = {  # task: (diff-QL best, as quoted from its paper; ours best)
    "umaze": (96.0, 97.0), "umaze-diverse": (84.0, 95.0), "medium-play": (79.8, 92.0),
    "medium-diverse": (82.0, 90.7), "large-play": (49.0, 74.0), "large-diverse": (61.7, 75.7),
}
"""Table 1's parentheses: the best score over training (Diffusion-QL's own metric)."""
TABLE1_AVERAGE = {"TD3+BC": 16.4, "IQL": 63.0, "MSG": 74.4, "sfBC": 77.2, "diff-QL": 29.6, "ours": 80.8,
                  "diff-QL best": 75.4, "ours best": 87.4}
"""Table 1's printed averages row."""

TABLE2 = {  # task: (diff-QL, ours w/o OPER-R, ours)
    "umaze": (95.6, 94.3, 94.3), "umaze-diverse": (69.5, 88.5, 88.5), "medium-play": (0.0, 77.0, 85.6),
    "medium-diverse": (6.4, 70.4, 83.9), "large-play": (1.6, 47.8, 65.4), "large-diverse": (4.4, 60.3, 67.1),
}
"""Table 2 (umaze-diverse's diff-QL is blank in the paper; 69.5 is Table 1's, see the module doc)."""
TABLE2_COLUMNS = ("diff-QL", "ours w/o OPER-R", "ours")
TABLE2_AVERAGE = {"diff-QL": 29.6, "ours w/o OPER-R": 73.1, "ours": 80.8}

TABLE4_COLUMNS = ("diff-QL", "LN", "BN", "WN")
TABLE4 = {"large-play": (1.6, 72.7, 1.0, 35.0), "large-diverse": (4.4, 66.5, 2.1, 42.5)}
"""Table 4: critic normalizations on the two large mazes."""

TABLE5_COLUMNS = ("w/o LN", "LN(0)", "LN(0,1)", "LN(1,2)", "LN(2)", "LN(0,1,2)", "LN no affine")
TABLE5 = {"large-play": (1.6, 0.0, 0.0, 8.3, 17.8, 72.7, 72.8),
          "large-diverse": (4.4, 60.2, 68.0, 77.1, 65.5, 66.5, 66.7)}
"""Table 5: where LayerNorm goes (hidden layers 0, 1, 2 of the 3 × 256 critic)."""

ROUNDING = 0.05 + 1e-9
"""A printed average of one-decimal numbers may differ from the mean of the printed rows by at
most half a unit of the last decimal."""


def column_means(table: dict[str, tuple], columns: tuple[str, ...]) -> dict[str, float]:
    """The mean over tasks of each column."""
    values = np.array(list(table.values()), dtype=float)
    return dict(zip(columns, values.mean(0)))


def average_errors() -> dict[str, float]:
    """``"Table N: column" -> |printed average − mean of the printed rows|`` for Tables 1 and 2."""
    best = dict(zip(("diff-QL best", "ours best"), np.array(list(TABLE1_BEST.values())).mean(0)))
    recomputed = {**{f"Table 1: {k}": v for k, v in {**column_means(TABLE1, TABLE1_COLUMNS), **best}.items()},
                  **{f"Table 2: {k}": v for k, v in column_means(TABLE2, TABLE2_COLUMNS).items()}}
    printed = {**{f"Table 1: {k}": v for k, v in TABLE1_AVERAGE.items()},
               **{f"Table 2: {k}": v for k, v in TABLE2_AVERAGE.items()}}
    return {k: abs(printed[k] - recomputed[k]) for k in printed}


def shared_cells() -> dict[str, tuple[float, float]]:
    """Cells that two tables print for the same runs, ``name -> (one, other)``: Table 2's columns
    against Table 1's, Table 4's diff-QL and LN against Table 5's w/o LN and LN(0,1,2), and
    Table 4's diff-QL against Table 1's. (Table 1's and Table 4's LN on the large mazes differ in
    the paper itself, 65.4 vs 72.7 and 67.1 vs 66.5, and are not compared.)"""
    out = {}
    for task in TASKS:
        out[f"{task}: Table 2 ours = Table 1 ours"] = (TABLE2[task][2], TABLE1[task][5])
        out[f"{task}: Table 2 diff-QL = Table 1 diff-QL"] = (TABLE2[task][0], TABLE1[task][4])
    for task in TABLE4:
        out[f"{task}: Table 4 diff-QL = Table 5 w/o LN"] = (TABLE4[task][0], TABLE5[task][0])
        out[f"{task}: Table 4 LN = Table 5 LN(0,1,2)"] = (TABLE4[task][1], TABLE5[task][5])
        out[f"{task}: Table 4 diff-QL = Table 1 diff-QL"] = (TABLE4[task][0], TABLE1[task][4])
    return out


def markdown(table: dict[str, tuple], columns: tuple[str, ...], average: dict[str, float] | None = None,
             extra: dict[str, tuple[str, ...]] | None = None) -> str:
    """A Markdown table: one row per task (``antmaze-<task>-v0``), an average row if given;
    ``extra[task]`` replaces the printed cells of a row (e.g. with ± std and best scores)."""
    lines = ["| dataset | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for task, values in table.items():
        cells = (extra or {}).get(task) or tuple(f"{v:.1f}" for v in values)
        lines.append(f"| antmaze-{task}-v0 | " + " | ".join(cells) + " |")
    if average:
        lines.append("| average | " + " | ".join(f"{average[c]:.1f}" for c in columns) + " |")
    return "\n".join(lines)


def table1_markdown() -> str:
    """Table 1 as printed: "ours" with ± std, Diffusion-QL and ours with their best in parentheses."""
    extra = {}
    for task, row in TABLE1.items():
        dq_best, ours_best = TABLE1_BEST[task]
        extra[task] = tuple(f"{v:.1f}" for v in row[:4]) + (f"{row[4]:.1f} ({dq_best:.1f})",
                                                             f"{row[5]:.1f} ± {TABLE1_STD[task]:.1f} ({ours_best:.1f})")
    avg = TABLE1_AVERAGE
    lines = markdown(TABLE1, TABLE1_COLUMNS, None, extra).splitlines()
    lines.append("| average | " + " | ".join(f"{avg[c]:.1f}" for c in TABLE1_COLUMNS[:4])
                 + f" | {avg['diff-QL']:.1f} ({avg['diff-QL best']:.1f}) | {avg['ours']:.1f} ({avg['ours best']:.1f}) |")
    return "\n".join(lines)


def as_html(table: str, caption: str = "") -> str:
    """A pipe table made by :func:`markdown` or :func:`table1_markdown` as an HTML table (the
    book renders a cell's HTML output as it is; Markdown outputs are read as CommonMark, which has
    no tables)."""
    lines = [line for line in table.splitlines() if line.startswith("|") and not line.startswith("|---")]
    cells = [[html.escape(c.strip()) for c in line.strip("|").split("|")] for line in lines]
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join(('<tr class="average">' if row[0] == "average" else "<tr>")
                   + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[1:])
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="paper-table">{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
