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
