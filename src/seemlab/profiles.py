"""Run scales shared by every notebook: ``smoke`` (seconds, no claims), ``quick`` (minutes on
2 CPU cores, the SPEC's QUICK setups, claims checked) and ``full`` (the paper's scale, a GPU).

A profile only fills in defaults; a notebook parameter set explicitly (not ``None``) wins.

``full`` shrunk, for the tests only: with ``SEEMLAB_SHRINK_FULL=1`` in the environment, ``full``
keeps everything that is not a number (its datasets, its grids given as lists, its thresholds and
every ``profile == "full"`` branch), but each number :func:`pick` chooses (steps, widths, seeds,
probe and batch sizes, logging cadences) takes its ``smoke`` value. So a FULL page runs every
FULL-only line in seconds. Its claim records go to the seed block ``shrunk``, which the
scorecard never reads, and are not evidence (:mod:`seemlab.claims`). Unset (or ``0``) it changes
nothing.
"""

from __future__ import annotations

import os
from typing import TypeVar

PROFILES = ("smoke", "quick", "full")
SHRINK_ENV = "SEEMLAB_SHRINK_FULL"

T = TypeVar("T")


class ParameterError(ValueError):
    """A bad notebook parameter. In a notebook (IPython, papermill) it shows as one line."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for a custom traceback
        return [f"{type(self).__name__}: {self}"]


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise a one-line :class:`ParameterError`."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; allowed values: {', '.join(PROFILES)}")
    return profile


def shrunk() -> bool:
    """Whether ``$SEEMLAB_SHRINK_FULL`` is ``1`` (module docstring); any value but ``0``/``1`` fails."""
    value = os.environ.get(SHRINK_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ParameterError(f"{SHRINK_ENV} must be 0 or 1, got {value!r}")
    return value == "1"


def pick(profile: str, value: T | None = None, *, smoke: T, quick: T, full: T) -> T:
    """The explicit ``value`` if given, else the default of ``profile`` (at ``full`` shrunk, a
    number takes its ``smoke`` value: module docstring).

    >>> pick("smoke", None, smoke=8, quick=64, full=256)
    8
    >>> pick("quick", 32, smoke=8, quick=64, full=256)
    32
    """
    check_profile(profile)
    if value is not None:
        return value
    if profile == "full" and _is_number(full) and _is_number(smoke) and shrunk():
        return smoke
    return {"smoke": smoke, "quick": quick, "full": full}[profile]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
