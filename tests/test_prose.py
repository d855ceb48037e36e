"""Chapter prose may not say more than the verdicts: wording of success about a paper item is
allowed only where ``book/items.yml`` expects that item reproduced (which ``seemlab check``
holds against every build); other results reach the page as the generated status sentences."""

import re

import pytest
import yaml

from seemlab.scorecard import slug

from conftest import ROOT

CHAPTERS = ["intro", "understand", "predict", "agents", "resolve", "beyond"]
SUCCESS = re.compile(r"(?<!not )(?<!not yet )\b(reproduc\w*|on every (task|run|seed)|coincid\w*|always|confirm\w*|"
                     r"settles?|rise together|grows as|keeps? (Q|it|them) bounded|exactly the)\b", re.I)
PAGE = re.compile(r"_executed/(\w+)`")
ITEMS = yaml.safe_load((ROOT / "book" / "items.yml").read_text(encoding="utf-8"))


def _alias(item: str) -> re.Pattern:
    """How prose names an item: "Figure 17" also as "Fig. 17", "Figs 16–17", "Figures 16 and 17"."""
    kind, _, number = item.partition(" ")
    if kind in ("Figure", "Table") and number.isdigit():
        return re.compile(rf"\b(?:Fig(?:ure)?s?|Tables?)\.?\s*(?:\d+\s*(?:,|and|–|-|&)\s*)*{number}\b"
                          if kind == "Figure" else rf"\bTables?\s*(?:\d+\s*(?:,|and|–|-|&)\s*)*{number}\b")
    special = {"λmax(A) ≤ ‖A‖F": r"λmax|\\lambda_\{?\\max", "App. B remark": r"App(?:\.|endix) B\b"}
    return re.compile(special.get(item, re.escape(item).replace(r"App\.", r"App(?:\.|endix)")), re.I)


ALIASES = {i["item"]: _alias(i["item"]) for i in ITEMS}


def _paragraphs(text: str) -> list[str]:
    """Prose paragraphs: code, math and directive blocks left out."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    return [p for p in re.split(r"\n\s*\n|\n(?=- )", text) if p.strip()]  # list items count one by one


def _items_named(paragraph: str) -> set[str]:
    pages = set(PAGE.findall(paragraph))
    return {i["item"] for i in ITEMS if i["notebook"] in pages or ALIASES[i["item"]].search(paragraph)}


def flattering(text: str) -> list[str]:
    """Sentences of success about items that ``items.yml`` does not expect reproduced."""
    expected = {i["item"] for i in ITEMS if i.get("expect") == "reproduced"}
    found = []
    for paragraph in _paragraphs(text):
        words = SUCCESS.findall(paragraph)
        unproven = _items_named(paragraph) - expected
        if words and unproven:
            found.append(f"{sorted(unproven)}: '{words[0][0]}' in: {paragraph[:120]}…")
    return found


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_prose_says_no_more_than_the_verdicts(chapter):
    assert flattering((ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8")) == []


def test_the_rule_catches_the_sentences_it_was_written_for():
    old = ("- {doc}`_executed/fig19_seem_q_sync`: SEEM and Q rise together on every task (Fig. 19).\n\n"
           "- {doc}`_executed/fig03_seem_gamma`: positive SEEM marks exactly the diverging γ, and the SEEM\n"
           "  surge coincides with the rise of Q (Fig. 3).")
    assert len(flattering(old)) == 2
    assert flattering("{doc}`_executed/fig19_seem_q_sync` is not reproduced at quick scale.") == []
    assert len(flattering("Figures 16 and 17 confirm the steady state.")) == 1
    assert len(flattering("Theorem 3: the sign marks exactly the diverging runs.")) == 1
    assert len(flattering("The early warning always comes first.")) == 1


def test_aliases_name_each_item_the_ways_prose_does():
    named = _items_named("Figs 16–17, Fig. 19, Figures 1 and 4, Table 3, Appendix B, $\\lambda_{\\max}$")
    assert {"Figure 16", "Figure 17", "Figure 19", "Figure 1", "Figure 4", "Table 3", "App. B remark",
            "λmax(A) ≤ ‖A‖F"} <= named and "Figure 2" not in named


def _sections(chapter: str) -> set[str]:
    """The notebooks that ``_toc.yml`` places under ``chapter``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc["parts"]:
        for entry in part["chapters"]:
            if entry["file"] == f"book/{chapter}":
                return {s["file"].rpartition("/")[2] for s in entry.get("sections", [])}
    raise AssertionError(f"book/{chapter} is not a chapter of _toc.yml")


@pytest.mark.parametrize("chapter", CHAPTERS[1:])
def test_chapters_include_the_status_of_their_pages(chapter):
    text = (ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8")
    for item in (i for i in ITEMS if i["notebook"] in _sections(chapter)):
        assert f"_executed/status/{slug(item['item'])}.md" in text, f"{chapter}: no status sentence for {item['item']}"
