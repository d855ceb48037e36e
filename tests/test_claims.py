import json
import math

import pytest

from seemlab import claims


def _fields(**extra):
    return dict(item="Figure 5", statement="s", paper=4.5, profile="quick", seed=3, **extra)


def test_record_appends_one_json_line_with_profile_and_seed(claims_dir):
    claims.record("nb/a", ours=1.0, tolerance="t", ok=True, **_fields())
    claims.record("nb/b", ours=[1, 2], tolerance="t", ok=False, **_fields(soft=True))
    lines = (claims_dir / "claims.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["profile"] == "quick" and first["seed"] == 3 and first["notebook"] == "nb"
    assert second["ours"] == [1, 2] and second["soft"] and not second["ok"]


@pytest.mark.parametrize(
    "ours, lo, hi, ok",
    [(2.0, 2.0, None, True), (1.99, 2.0, None, False), (0.1, None, 0.15, True), (0.2, None, 0.15, False),
     (0.5, 0.0, 1.0, True), (math.nan, 0.0, None, False), (math.inf, 0.0, None, True), (math.inf, None, 1.0, False)],
)
def test_check_bounds(claims_dir, ours, lo, hi, ok):
    entry = claims.check("nb/c", ours, lo=lo, hi=hi, **_fields())
    assert entry["ok"] is ok
    json.loads((claims_dir / "claims.jsonl").read_text())  # non-finite values stay valid JSON


def test_check_needs_a_bound(claims_dir):
    with pytest.raises(ValueError, match="at least one"):
        claims.check("nb/d", 1.0, **_fields())


def test_record_rejects_unknown_profile(claims_dir):
    with pytest.raises(ValueError, match="allowed values"):
        claims.record("nb/e", ours=1, tolerance="t", ok=True, item="x", statement="s", paper=1, profile="huge")


def test_load_keeps_the_last_record_per_claim(claims_dir):
    claims.record("nb/a", ours=1.0, tolerance="t", ok=False, **_fields())
    claims.record("nb/a", ours=2.0, tolerance="t", ok=True, **_fields())
    (entry,) = claims.load()
    assert entry["ours"] == 2.0 and entry["ok"]


def test_verdict_kinds(claims_dir):
    assert claims.record("nb/p", ours=1, tolerance="t", ok=True, **_fields())["verdict"] == "pass"
    assert claims.record("nb/f", ours=1, tolerance="t", ok=False, **_fields())["verdict"] == "fail"
    identity = claims.record("nb/i", ours=1, tolerance="t", ok=True, kind="identity", **_fields())
    assert identity["verdict"] == "identity" and identity["holds"] and not identity["ok"]
    reported = claims.record("nb/r", ours=1, tolerance="reported only", kind="reported", **_fields())
    assert reported["verdict"] == "reported" and not reported["ok"] and reported["holds"] is None
    assert claims.record("nb/s", ours=1, tolerance="t", ok=True, soft=True, **_fields())["verdict"] == "reported"


def test_a_check_needs_its_outcome_and_a_known_kind(claims_dir):
    with pytest.raises(ValueError, match="needs ok="):
        claims.record("nb/x", ours=1, tolerance="t", **_fields())
    with pytest.raises(ValueError, match="kind must be one of"):
        claims.record("nb/x", ours=1, tolerance="t", ok=True, kind="proof", **_fields())


@pytest.mark.parametrize("baseline_ok, verdict", [(True, "pass"), (False, "inconclusive")])
def test_precondition_decides_between_verdict_and_inconclusive(claims_dir, baseline_ok, verdict):
    base = claims.record("nb/baseline_diverges", ours=1, tolerance="t", ok=baseline_ok, **_fields())
    ln = claims.record("nb/ln_bounded", ours=1, tolerance="t", ok=True, requires=base, **_fields())
    assert ln["verdict"] == verdict and ln["requires"] == ["nb/baseline_diverges"]
    if verdict == "inconclusive":
        assert "precondition nb/baseline_diverges is fail" in ln["reason"]


def test_a_precondition_is_a_record_of_this_run_not_a_claim_id(claims_dir):
    claims.record("nb/base", ours=1, tolerance="t", ok=True, **_fields())  # an old record must not stand in
    with pytest.raises(ValueError, match="requires takes the records"):
        claims.record("nb/y", ours=1, tolerance="t", ok=True, requires="nb/base", **_fields())


def test_a_check_tuned_on_its_own_seeds_is_only_reported(claims_dir):
    seen = claims.record("nb/z", ours=1, tolerance="t", ok=True, seeds=[0, 1], calibrated_on=[0, 1, 2], **_fields())
    fresh = claims.record("nb/z", ours=1, tolerance="t", ok=True, seeds=[100, 101], calibrated_on=[0, 1, 2], **_fields())
    assert seen["verdict"] == "reported" and "chosen on seed(s) [0, 1]" in seen["reason"]
    assert fresh["verdict"] == "pass"


def test_records_of_another_seed_block_are_kept_apart(claims_dir, monkeypatch):
    claims.record("nb/a", ours=1, tolerance="t", ok=True, **_fields())
    monkeypatch.setenv(claims.BLOCK_ENV, "second")
    claims.record("nb/a", ours=2, tolerance="t", ok=False, **_fields())
    assert sorted((e["block"], e["verdict"]) for e in claims.load()) == [("manual", "pass"), ("second", "fail")]
    assert [e["ours"] for e in claims.rows("nb", "quick")] == [2]  # a page's own table: its block only


@pytest.mark.parametrize("verdicts, status", [
    ([], "not attempted"), (["pass", "identity"], "reproduced"), (["pass", "fail"], "partly"),
    (["pass", "inconclusive"], "partly"), (["fail", "inconclusive"], "not reproduced"),
    (["inconclusive"], "inconclusive"), (["identity", "reported"], "inconclusive")])
def test_item_status_rules(verdicts, status):
    assert claims.item_status([{"verdict": v} for v in verdicts]) == status


def test_legacy_records_get_a_verdict_from_ok_and_soft():
    assert [claims.verdict_of(e) for e in ({"ok": True}, {"ok": False}, {"ok": True, "soft": True})] == [
        "pass", "fail", "reported"]


def test_a_failed_precondition_makes_the_item_inconclusive_not_refuted(claims_dir):
    base = claims.record("nb/baseline_diverges", ours=1, tolerance="t", ok=False, kind="precondition", **_fields())
    ln = claims.record("nb/ln_bounded", ours=1, tolerance="t", ok=True, requires=base, **_fields())
    assert base["verdict"] == "fail" and not claims.is_evidence(base)
    assert ln["verdict"] == "inconclusive" and claims.item_status([base, ln]) == "inconclusive"
    held = claims.record("nb/baseline_diverges", ours=1, tolerance="t", ok=True, kind="precondition", **_fields())
    assert claims.record("nb/ln_bounded", ours=1, tolerance="t", ok=True, requires=held, **_fields())["verdict"] == "pass"


def test_a_check_missing_on_a_block_its_page_runs_on_is_not_reproduced(claims_dir, monkeypatch):
    monkeypatch.setenv(claims.BLOCKS_ENV, "main,second")
    monkeypatch.setenv(claims.BLOCK_ENV, "main")
    main = claims.record("nb/a", ours=1, tolerance="t", ok=True, **_fields())
    assert main["blocks"] == ["main", "second"]
    assert claims.missing_blocks([main]) == [("nb/a", "second")]
    assert claims.item_status([main]) == "partly"
    monkeypatch.setenv(claims.BLOCK_ENV, "second")
    second = claims.record("nb/a", ours=1, tolerance="t", ok=True, **_fields())
    assert claims.item_status([main, second]) == "reproduced"
