"""Faults in the claims file: malformed, partial and incomplete lines lose no good record."""

import json

import pytest

from seemlab import claims
from seemlab.scorecard import write_scorecard

from conftest import ROOT


def _record(claim_id, ok=True):
    return claims.record(claim_id, item="Figure 5", statement="s", paper=1, ours=1, tolerance="t", ok=ok,
                         profile="quick", seed=0)


def _file(claims_dir):
    return claims_dir / claims.CLAIMS_FILE


def test_partial_last_line_does_not_swallow_the_next_record(claims_dir):
    _record("nb/a")
    with open(_file(claims_dir), "a") as f:  # a writer killed in the middle of a line
        f.write('{"claim_id": "nb/half", "ite')
    _record("nb/b")
    with pytest.warns(UserWarning, match=r"claims.jsonl line 2: not JSON"):
        ids = [e["claim_id"] for e in claims.load()]
    assert ids == ["nb/a", "nb/b"]


def test_malformed_line_is_reported_with_its_file_and_line_and_skipped(claims_dir):
    _record("nb/a")
    with open(_file(claims_dir), "a") as f:
        f.write("not json at all\n")
    _record("nb/b")
    records, bad = claims.read()
    assert [e["claim_id"] for e in records] == ["nb/a", "nb/b"]
    assert [(b.line, b.reason.split(" (")[0]) for b in bad] == [(2, "not JSON")]
    assert str(bad[0]).startswith(str(_file(claims_dir)) + " line 2")


@pytest.mark.parametrize("line, missing", [({"item": "x", "statement": "s", "profile": "quick"}, "claim_id"),
                                           ({"claim_id": "nb/x", "item": "x", "statement": "s"}, "profile"),
                                           ([1, 2], "claim_id, item, statement, profile")])
def test_record_without_required_fields_is_named(claims_dir, line, missing):
    _record("nb/a")
    with open(_file(claims_dir), "a") as f:
        f.write(json.dumps(line) + "\n")
    records, bad = claims.read()
    assert [e["claim_id"] for e in records] == ["nb/a"]
    assert bad[0].reason == f"record lacks {missing}" and bad[0].line == 2


@pytest.mark.parametrize("garbage", [b"\x00" * 64, bytes(range(256)), b"\xff\xfe{"])
def test_binary_garbage_is_skipped_and_later_records_survive(claims_dir, garbage):
    _record("nb/a")
    with open(_file(claims_dir), "ab") as f:
        f.write(garbage)
    _record("nb/b")
    records, bad = claims.read()
    assert [e["claim_id"] for e in records] == ["nb/a", "nb/b"] and bad


def test_scorecard_builds_and_says_how_many_lines_were_unreadable(claims_dir, monkeypatch):
    monkeypatch.setenv(claims.BLOCK_ENV, claims.MAIN_BLOCK)  # as seemlab book records
    _record("nb/a")
    with open(_file(claims_dir), "a") as f:
        f.write("{oops\n")
    page = write_scorecard(ROOT, claims_dir, "quick", {}).read_text()
    assert "**1 unreadable record in claims.jsonl** (skipped): line 2" in page
    assert "1 evidence checks: **1 pass**" in page


def test_a_failing_disk_write_keeps_earlier_records(claims_dir, monkeypatch):
    _record("nb/a")

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(claims.os, "write", full)
    with pytest.raises(OSError, match="cannot append a claim record to .*claims.jsonl: No space left"):
        _record("nb/b")
    monkeypatch.undo()
    assert [e["claim_id"] for e in claims.load(_file(claims_dir))] == ["nb/a"]
