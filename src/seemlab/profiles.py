"""Run scales shared by every notebook: ``smoke`` (seconds, no claims), ``quick`` (minutes on
2 CPU cores, the SPEC's QUICK setups, claims checked) and ``full`` (the paper's scale, a GPU).

A profile only fills in defaults; a notebook parameter set explicitly (not ``None``) wins.
"""

from __future__ import annotations

from typing import TypeVar

PROFILES = ("smoke", "quick", "full")

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


def pick(profile: str, value: T | None = None, *, smoke: T, quick: T, full: T) -> T:
    """The explicit ``value`` if given, else the default of ``profile``.

    >>> pick("smoke", None, smoke=8, quick=64, full=256)
    8
    >>> pick("quick", 32, smoke=8, quick=64, full=256)
    32
    """
    check_profile(profile)
    if value is not None:
        return value
    return {"smoke": smoke, "quick": quick, "full": full}[profile]
