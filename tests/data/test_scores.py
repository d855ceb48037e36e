import numpy as np
import pytest

from seemlab.data.scores import (D4RL_REFERENCE, ReferenceScores, d4rl_family, d4rl_reference,
                                 minari_reference, normalized_score)


def test_d4rl_constants_match_spec_0_2b():
    assert D4RL_REFERENCE == {
        "hopper": (-20.272305, 3234.3), "halfcheetah": (-280.178953, 12135.0),
        "walker2d": (1.629008, 4592.3), "ant": (-325.6, 3879.7), "antmaze": (0.0, 1.0)}


@pytest.mark.parametrize("task, family", [("hopper-medium-v2", "hopper"),
                                          ("walker2d-medium-expert-v2", "walker2d"),
                                          ("antmaze-large-play-v0", "antmaze"),
                                          ("ant-medium-v2", "ant"), ("halfcheetah", "halfcheetah")])
def test_family(task, family):
    assert d4rl_family(task) == family


def test_unknown_family_lists_allowed():
    with pytest.raises(ValueError, match="antmaze"):
        d4rl_family("pendulum-v1")


def test_normalized_score_is_0_to_100_with_source():
    ref = d4rl_reference("hopper-medium-v2")
    assert normalized_score(ref.min, ref).normalized == pytest.approx(0.0)
    assert normalized_score(ref.max, ref).normalized == pytest.approx(100.0)
    score = normalized_score(np.array([1000.0, 2000.0]), ref)
    assert score.raw == 1500.0
    assert score.normalized == pytest.approx(100 * (1500 + 20.272305) / (3234.3 + 20.272305))
    assert "D4RL" in score.source and "hopper" in score.source
    assert normalized_score(1.0, d4rl_reference("antmaze-umaze-v0")).normalized == 100.0


def test_no_reference_means_no_normalized_score():
    score = normalized_score(123.0, None)
    assert score.raw == 123.0 and score.normalized is None and "none" in score.source


def test_minari_reference_from_metadata():
    assert minari_reference({}) is None
    ref = minari_reference({"ref_min_score": -1, "ref_max_score": 3})
    assert ref == ReferenceScores(-1.0, 3.0, ref.source) and "Minari" in ref.source
