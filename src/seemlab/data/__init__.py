"""Offline datasets behind one loader: Minari ids, D4RL hdf5 files, locally generated data.

>>> data = load("local:hopper-random-10k-v0", fraction=0.1)   # doctest: +SKIP
>>> data.observations.shape, data.rewards.shape                # (N, d_s), (N,)
>>> batch = data.sample(256, torch.Generator().manual_seed(0))

Specs (SPEC §0.2):
- ``minari:<id>``, e.g. ``minari:mujoco/hopper/medium-v0``, ``minari:D4RL/antmaze/large-play-v1``;
  downloaded when the network allows. ``.../medium-expert-v0`` is built as medium ⊕ expert.
- ``d4rl:<path.hdf5>``: an original D4RL file; a missing ``*-medium-expert-*`` file is built from
  its ``-medium-`` and ``-expert-`` siblings.
- ``local:<name>``: a dataset made by ``seemlab data generate`` (see :mod:`seemlab.data.local`).

X% subsets (SPEC Ambiguity 27) are uniform over transitions, one per (dataset, X) from a SHA-256
seed, so every algorithm and training seed sees the same subset.

:func:`content_id` names what a spec holds without loading it (the run cache keys on it).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seemlab.data.dataset import RawTransitions, TransitionDataset

# Re-exported lazily so that `seemlab --help` and `seemlab.data.cli` do not import torch.
_LAZY = {"TransitionDataset": "dataset", "Batch": "dataset", "RawTransitions": "dataset",
         "DataNotFoundError": "dataset",
         "ReferenceScores": "scores", "Score": "scores", "d4rl_reference": "scores",
         "normalized_score": "scores"}

__all__ = ["load", "load_raw", "parse_spec", "content_id", "TransitionDataset", "Batch", "RawTransitions",
           "DataNotFoundError", "ReferenceScores", "Score", "d4rl_reference",
           "normalized_score", "SOURCES", "BODIES"]

SOURCES = {
    "minari": "minari:<dataset id>, e.g. minari:mujoco/hopper/medium-v0",
    "d4rl": "d4rl:<path to a D4RL .hdf5 file>, e.g. d4rl:~/d4rl/hopper-medium-v2.hdf5",
    "local": "local:<name>, e.g. local:hopper-random-10k-v0 (see `seemlab data list`)",
}
# Gymnasium bodies `seemlab data generate` knows (AntMaze_UMaze is the sparse-reward proxy).
BODIES = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "AntMaze_UMaze-v5")
_ME, _PARTS = "medium-expert", ("medium", "expert")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"seemlab.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'seemlab.data' has no attribute {name!r}")


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``"<source>:<rest>"``; a one-line ValueError for a spec that is not text, an unknown
    source (listing the allowed ones) or a known source with nothing after the colon."""
    from seemlab.profiles import ParameterError

    if not isinstance(spec, str):
        raise ParameterError(f"dataset spec {spec!r} is not a string; allowed values: {'; '.join(SOURCES.values())}")
    source, sep, rest = spec.partition(":")
    if not sep or source not in SOURCES:
        raise ParameterError(f"unknown data source in {spec!r}; use one of: {'; '.join(SOURCES.values())}")
    if not rest.strip():
        raise ParameterError(f"dataset spec {spec!r} names no dataset; "
                             f"allowed values: {SOURCES[source]}")
    return source, rest


def load(spec: str, *, fraction: float = 1.0, subset_seed: int | None = None,
         normalize_states: bool = True) -> TransitionDataset:
    """Load a dataset as float32 CPU tensors (move it with ``.to(device)``).

    Everything is checked before any training starts: the source, the fraction, the file and
    its layout, finiteness and action bounds. State statistics are those of the loaded
    transitions (the subset, when ``fraction < 1``), as TD3+BC computes them.

    Args:
        spec: ``minari:<id>``, ``d4rl:<path>`` or ``local:<name>`` (module docstring).
        fraction: X% as a fraction in (0, 1]; the subset is exact in size, round(X * N).
        subset_seed: None for the shared subset of (dataset, X); an int for an alternative one.
        normalize_states: subtract the state mean and divide by std + 1e-3 (TD3+BC).

    Raises:
        ValueError: unknown source, bad fraction, wrong layout, non-finite values, no bounds.
        DataNotFoundError: (a FileNotFoundError and a ValueError) missing file or dataset;
            for Minari offline, says how to get the data.
    """
    from seemlab.data.dataset import build, check_fraction

    check_fraction(fraction)
    raw, key = load_raw(spec)
    return build(raw, name=spec, key=key, fraction=fraction, subset_seed=subset_seed,
                 normalize_states=normalize_states)


def load_raw(spec: str) -> tuple[RawTransitions, str]:
    """Read a spec's transitions unvalidated; also return its location-independent key."""
    source, rest = parse_spec(spec)
    reader = {"minari": _minari, "d4rl": _d4rl, "local": _local}[source]
    return reader(rest)


def content_id(spec: str) -> str:
    """A stable identity of the transitions ``spec`` holds, without loading them.

    - ``local:``: the content sha256 its data card records
      (:func:`seemlab.data.dataset.content_sha256`); for a folder without a card, the sha256 of
      its files.
    - ``d4rl:``: the sha256 of the file.
    - ``minari:``: the spec itself. Hub releases never change under a versioned id, and a run's
      cache key must not need a download.

    A medium-expert dataset built from its two parts gets both parts' identities.

    Raises:
        DataNotFoundError: a missing local dataset or D4RL file.
    """
    source, rest = parse_spec(spec)
    if source == "minari":
        return spec
    if source == "local":
        return "+".join(_local_id(n) for n in _parts(rest, _local_exists))
    path = Path(rest).expanduser()
    return "+".join(_d4rl_id(Path(p)) for p in _parts(str(path), lambda p: Path(p).is_file()))


def _local_id(name: str) -> str:
    from seemlab.data.local import file_sha256s, read_card, resolve

    folder = resolve(name)
    return read_card(folder).get("sha256") or hashlib.sha256(repr(file_sha256s(folder)).encode()).hexdigest()


def _d4rl_id(path: Path) -> str:
    from seemlab.data.dataset import DataNotFoundError

    if not path.is_file():
        raise DataNotFoundError(f"D4RL file not found: {path}")
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file's bytes. Size and mtime are in the memo key so that a rewritten file is
    hashed again; a D4RL file is hundreds of MB and the run cache asks for it per config."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _parts(name: str, exists) -> list[str]:
    """``[name]`` when it exists or is no medium-expert name, else its medium and expert parts."""
    if exists(name) or _ME not in name:
        return [name]
    head, tail = name.rsplit(_ME, 1)
    return [f"{head}{part}{tail}" for part in _PARTS]


def _medium_expert(name: str, exists, read, source: str) -> RawTransitions:
    """``read(name)`` when ``exists(name)``; else medium ⊕ expert for a medium-expert name."""
    from seemlab.data.dataset import DataNotFoundError, concat

    parts = _parts(name, exists)
    if parts == [name]:
        return read(name)
    missing = [p for p in parts if not exists(p)]
    if missing and source != "minari":
        raise DataNotFoundError(f"{name} not found, nor its parts {missing}")
    return concat([read(p) for p in parts], source=f"{source}:{name} = {' ⊕ '.join(parts)}")


def _minari(dataset_id: str) -> tuple[RawTransitions, str]:
    from seemlab.data import minari_source as m
    raw = _medium_expert(dataset_id, m.has_local, m.load_minari, "minari")
    return raw, f"minari:{dataset_id}"


def _d4rl(path_text: str) -> tuple[RawTransitions, str]:
    from seemlab.data.d4rl import load_d4rl
    path = Path(path_text).expanduser()
    raw = _medium_expert(str(path), lambda p: Path(p).is_file(),
                         lambda p: load_d4rl(Path(p)), "d4rl")
    return raw, f"d4rl:{path.stem}"


def _local(name: str) -> tuple[RawTransitions, str]:
    from seemlab.data.local import load_local, resolve

    raw = _medium_expert(name, _local_exists, load_local, "local")
    return raw, f"local:{resolve(name).name}" if _local_exists(name) else f"local:{name}"


def _local_exists(name: str) -> bool:
    from seemlab.data.local import resolve

    try:
        return resolve(name).is_dir()
    except FileNotFoundError:
        return False
