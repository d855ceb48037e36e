import pytest

from seemlab.profiles import PROFILES, check_profile, pick


def test_pick_uses_profile_default_unless_value_given():
    assert [pick(p, None, smoke=1, quick=2, full=3) for p in PROFILES] == [1, 2, 3]
    assert pick("full", 7, smoke=1, quick=2, full=3) == 7


def test_unknown_profile_names_allowed_values():
    with pytest.raises(ValueError, match="unknown profile 'huge'; allowed values: smoke, quick, full"):
        check_profile("huge")
    with pytest.raises(ValueError, match="allowed values"):
        pick("huge", None, smoke=1, quick=2, full=3)
