"""Parameter checks in one place: notebook parameters, command-line options and config fields.

A :class:`Param` says what a value may be; the constructors below build one each::

    integer(min=1)                       # an integer >= 1
    number(0, 1, hi_open=True)           # a number in [0, 1)
    choice("smoke", "quick", "full")     # one of these values
    text()                               # a non-empty string
    boolean()                            # True or False
    sequence_of(number(0, 1))            # a non-empty list or tuple of such numbers

``optional=True`` also allows ``None``, which in a notebook means "the profile's default"
(:func:`seemlab.profiles.pick`); ``optional="<meaning>"`` allows it with another meaning.
A bad value raises :class:`~seemlab.profiles.ParameterError` (a ``ValueError``) whose one
line names the parameter, the value and what is allowed::

    gamma = 1.5 is out of range; allowed values: a number in [0, 1), or None (the profile's default)
    unknown profile 'huge'; allowed values: smoke, quick, full

A notebook declares its schema in the cell after its ``parameters`` cell, with
:func:`check_parameters`, which also rejects a parameter that papermill injected but the
notebook does not declare (a typo would otherwise run silently with the defaults).
"""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from seemlab.profiles import PROFILES, ParameterError

OPTIONAL = "the profile's default"
PAPERMILL_HEADER = "# Parameters"
"""First line of the cell papermill injects after the ``parameters`` cell."""


@dataclass(frozen=True)
class Param:
    """What a value may be; build one with :func:`integer`, :func:`number`, :func:`choice`,
    :func:`text`, :func:`boolean` or :func:`sequence_of`."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    item: Param | None = None
    length: int | None = None
    optional: bool | str = False
    """Also allow None: True means the profile's default, a string says what None means."""

    def describe(self) -> str:
        """The allowed values in words, e.g. ``a number in [0, 1)``."""
        words = {"integer": lambda: f"an integer{self._range()}", "number": lambda: f"a number{self._range()}",
                 "choice": lambda: ", ".join(map(str, self.choices)), "text": lambda: "a non-empty string",
                 "boolean": lambda: "True or False",
                 "sequence": lambda: f"a {f'list of {self.length} items' if self.length else 'non-empty list'}, "
                                     f"each item {self.item.describe()}"}[self.kind]()
        if not self.optional:
            return words
        return f"{words}, or None ({OPTIONAL if self.optional is True else self.optional})"

    def check(self, name: str, value):
        """Return ``value`` if allowed, else raise a one-line :class:`ParameterError`."""
        if value is None and self.optional:
            return value
        problem = self._problem(value)
        if problem is None:
            for i, item in enumerate(value if self.kind == "sequence" else ()):
                self.item.check(f"{name}[{i}]", item)
            return value
        if self.kind == "choice" and problem == "unknown":
            raise ParameterError(f"unknown {name or 'value'} {value!r}; allowed values: {self.describe()}")
        subject = f"{name} = {value!r}" if name else repr(value)
        raise ParameterError(f"{subject} {problem}; allowed values: {self.describe()}")

    def _problem(self, value) -> str | None:
        """Why ``value`` is not allowed (None: it is)."""
        if self.kind == "choice":
            return None if _hashable(value) and value in self.choices and not isinstance(value, bool) else "unknown"
        if self.kind == "text":
            return None if isinstance(value, str) and value.strip() else "is not a non-empty string"
        if self.kind == "boolean":
            return None if isinstance(value, bool) else "is not True or False"
        if self.kind == "sequence":
            if not isinstance(value, (list, tuple)):
                return "is not a list or tuple"
            if not value:
                return "is empty"
            return None if self.length in (None, len(value)) else f"has {len(value)} items"
        whole = self.kind == "integer"
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if whole else numbers.Real):
            return "is not an integer" if whole else "is not a number"
        if not math.isfinite(value):
            return "is not finite"
        return None if self._inside(value) else "is out of range"

    def _inside(self, value) -> bool:
        above = self.lo is None or (value > self.lo if self.lo_open else value >= self.lo)
        below = self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)
        return above and below

    def _range(self) -> str:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            return f" in {'(' if self.lo_open else '['}{lo:g}, {hi:g}{')' if self.hi_open else ']'}"
        if lo is not None:
            return f" {'>' if self.lo_open else '>='} {lo:g}"
        if hi is not None:
            return f" {'<' if self.hi_open else '<='} {hi:g}"
        return ""


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def integer(min: int | None = None, max: int | None = None, *, optional: bool | str = False) -> Param:
    """An integer (not a bool) in ``[min, max]``."""
    return Param("integer", lo=min, hi=max, optional=optional)


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
           optional: bool | str = False) -> Param:
    """A finite real number between ``lo`` and ``hi`` (ends included unless ``*_open``)."""
    return Param("number", lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, optional=optional)


def choice(*values, optional: bool | str = False) -> Param:
    """One of ``values``."""
    return Param("choice", choices=tuple(values), optional=optional)


def text(*, optional: bool | str = False) -> Param:
    """A non-empty string (a dataset spec, an env id: checked further where it is used)."""
    return Param("text", optional=optional)


def boolean(*, optional: bool | str = False) -> Param:
    """``True`` or ``False``."""
    return Param("boolean", optional=optional)


def sequence_of(item: Param, *, length: int | None = None, optional: bool | str = False) -> Param:
    """A non-empty list or tuple (of ``length`` items if given), each item allowed by ``item``."""
    return Param("sequence", item=item, length=length, optional=optional)


def known_profile() -> Param:
    """One of :data:`seemlab.profiles.PROFILES`."""
    return choice(*PROFILES)


# ---------------------------------------------------------------------------- notebooks
def check_parameters(namespace: Mapping, **schema: Param) -> None:
    """Check a notebook's parameters against ``schema`` (name -> :class:`Param`), before any compute.

    ``namespace`` is the notebook's ``globals()``. A parameter that papermill injected (its
    ``# Parameters`` cell, found in IPython's input history ``In``) but ``schema`` does not name
    is an error; outside IPython, any plain value in ``namespace`` that is not in ``schema``.
    """
    # papermill --inject-paths adds PAPERMILL_INPUT_PATH and the like: not parameters of the notebook
    unknown = sorted(n for n in set(_injected(namespace)) - set(schema) if not n.startswith("PAPERMILL_"))
    if unknown:
        raise ParameterError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                             f"allowed parameters: {', '.join(schema)}")
    for name, spec in schema.items():
        if name not in namespace:
            raise ParameterError(f"parameter {name} is in the schema but was never set")
        spec.check(name, namespace[name])


def _injected(namespace: Mapping) -> list[str]:
    """Names assigned by the latest papermill-injected cell (all plain values without IPython)."""
    history = namespace.get("In")
    if not isinstance(history, list):
        return [k for k, v in namespace.items() if not k.startswith("_") and _plain(v)]
    cells = [src for src in history if isinstance(src, str) and src.lstrip().startswith(PAPERMILL_HEADER)]
    if not cells:
        return []
    names = []
    for node in ast.walk(ast.parse(cells[-1])):
        if isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _plain(value) -> bool:
    """A value a parameter can hold (papermill injects literals): no module, function or class."""
    return not (callable(value) or type(value).__name__ == "module")


# ---------------------------------------------------------------------------- configs and options
def check_fields(obj, prefix: str | None = None, **schema: Param) -> None:
    """Check the fields ``schema`` names of the dataclass ``obj`` (errors name ``Class.field``)."""
    prefix = type(obj).__name__ if prefix is None else prefix
    for name, spec in schema.items():
        spec.check(f"{prefix}.{name}" if prefix else name, getattr(obj, name))


def check_values(values: Mapping, **schema: Param) -> None:
    """Check ``values[name]`` for each name of ``schema`` that ``values`` holds."""
    for name, spec in schema.items():
        if name in values:
            spec.check(name, values[name])


def check_options(args) -> None:
    """Check the parsed command-line options that a command declared with
    ``parser.set_defaults(options={dest: Param})``; an option left out (None) is not checked."""
    for dest, spec in getattr(args, "options", {}).items():
        value = getattr(args, dest, None)
        if value is not None:
            spec.check(f"--{dest.replace('_', '-')}", value)
