"""Reference scores and normalized returns; the source of the constants travels with each score.

D4RL normalized score = 100 * (R - min) / (max - min), on the 0-100 scale the paper uses
(D4RL's own helper returns 0-1). Constants come from D4RL's ``infos.py`` or from a
Minari dataset's ``ref_min_score`` / ``ref_max_score`` metadata. Gymnasium v5 returns are not
comparable with D4RL v2, so no constants are ever applied silently: a dataset without reference
scores gives ``Score.normalized = None`` unless the caller passes constants explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

D4RL_SOURCE = "D4RL infos.py"
MINARI_SOURCE = "Minari metadata ref_min_score/ref_max_score"

# Task family -> (REF_MIN_SCORE, REF_MAX_SCORE), from D4RL's infos.py.
D4RL_REFERENCE = {
    "hopper": (-20.272305, 3234.3),
    "halfcheetah": (-280.178953, 12135.0),
    "walker2d": (1.629008, 4592.3),
    "ant": (-325.6, 3879.7),
    "antmaze": (0.0, 1.0),
}


@dataclass(frozen=True)
class ReferenceScores:
    """Return of a random (``min``) and an expert (``max``) policy, and where they come from."""

    min: float
    max: float
    source: str


@dataclass(frozen=True)
class Score:
    """One evaluation: the raw mean return, its 0-100 normalized value, and the constants' source.

    ``normalized`` is None when no reference scores apply; ``source`` then says why.
    """

    raw: float
    normalized: float | None
    source: str


def d4rl_family(task: str) -> str:
    """The D4RL task family of a name such as ``hopper-medium-v2`` or ``antmaze-large-play-v0``.

    Raises:
        ValueError: no known family, listing the allowed ones.
    """
    name = task.lower().rsplit("/", 1)[-1]
    for family in sorted(D4RL_REFERENCE, key=len, reverse=True):  # antmaze before ant
        if re.match(rf"^{family}([-_]|$)", name):
            return family
    raise ValueError(
        f"cannot tell the D4RL task family of {task!r}; it must start with one of "
        f"{sorted(D4RL_REFERENCE)} (e.g. 'hopper-medium-v2')"
    )


def d4rl_reference(task: str) -> ReferenceScores:
    """D4RL's published constants for ``task`` (a family or a full task name)."""
    family = d4rl_family(task)
    low, high = D4RL_REFERENCE[family]
    return ReferenceScores(low, high, f"{D4RL_SOURCE}: {family}")


def minari_reference(metadata: Mapping[str, Any]) -> ReferenceScores | None:
    """The reference scores a Minari dataset carries, or None (e.g. ``mujoco/*-v0``, Minari #323)."""
    low, high = metadata.get("ref_min_score"), metadata.get("ref_max_score")
    if low is None or high is None:
        return None
    return ReferenceScores(float(low), float(high), MINARI_SOURCE)


def normalized_score(returns: float | np.ndarray, reference: ReferenceScores | None) -> Score:
    """Mean episode return and its 0-100 normalized value.

    Args:
        returns: a return or an array of episode returns, shape (E,); their mean is scored.
        reference: the constants, or None when none apply.
    """
    raw = float(np.mean(np.asarray(returns, dtype=np.float64)))
    if reference is None:
        return Score(raw, None, "none: this dataset carries no reference scores")
    value = 100.0 * (raw - reference.min) / (reference.max - reference.min)
    return Score(raw, value, reference.source)
