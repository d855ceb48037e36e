"""Locally generated datasets (``local:<name>``): Minari datasets in the project data folder.

Layout, one folder per dataset (Minari's on-disk layout plus a data card)::

    data/local/<name>/data/main_data.hdf5   Minari episodes (float32)
    data/local/<name>/data/metadata.json    Minari metadata
    data/local/<name>/card.json             generator, config, seed, returns, size, sha256, command
                                            (JSON under one checksum line, seemlab.runs.cache)

The data folder is ``$SEEMLAB_DATA_DIR`` when set, else ``<repository>/data``. ``<name>`` may omit
its ``-v<k>`` suffix to get the highest version present.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from seemlab.data.dataset import DataNotFoundError, RawTransitions
from seemlab.data.minari_source import read_path

CARD = "card.json"
_VERSION = re.compile(r"-v(\d+)$")


def data_root() -> Path:
    """``$SEEMLAB_DATA_DIR``, else the repository's ``data`` folder (else ``./data``)."""
    env = os.environ.get("SEEMLAB_DATA_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    return repo / "data" if (repo / "pyproject.toml").exists() else Path.cwd() / "data"


def local_root(root: Path | None = None) -> Path:
    """The folder holding local datasets: ``<data root>/local``."""
    return (root if root is not None else data_root()) / "local"


def names(root: Path | None = None) -> list[str]:
    """Names of the local datasets present, sorted."""
    base = local_root(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir()
                  if (p / "data" / "metadata.json").is_file() and not p.name.startswith("."))


def resolve(name: str, root: Path | None = None) -> Path:
    """The folder of local dataset ``name`` (highest ``-v<k>`` when the version is omitted).

    Raises:
        DataNotFoundError: listing the datasets present and how to generate more.
    """
    base = local_root(root)
    present = names(root)
    if name in present:
        return base / name
    versions = [n for n in present if _VERSION.sub("", n) == name]
    if versions and not _VERSION.search(name):
        return base / max(versions, key=lambda n: int(_VERSION.search(n).group(1)))
    raise DataNotFoundError(f"no local dataset {name!r} in {base}; present: {present or 'none'}. "
                            f"Make one with `seemlab data generate` (see `seemlab data list`).")


def load_local(name: str, root: Path | None = None) -> RawTransitions:
    """Read local dataset ``name`` through Minari's reader."""
    folder = resolve(name, root)
    return read_path(folder / "data", f"local:{folder.name}")


def read_card(folder: Path) -> dict[str, Any]:
    """The data card of a local dataset folder ({} when it has none).

    A card that fails its checksum or is not a JSON object is moved aside to
    ``card.json.corrupt-<UTC time>`` with a warning, and read as {} (restore it with git, or
    regenerate the dataset). Cards written before checksums (plain JSON) are read as they are.
    """
    from seemlab.runs.cache import load_checked  # here: seemlab.runs imports seemlab.data

    card = load_checked(Path(folder) / CARD, _parse_card)
    return card if card is not None else {}


def _parse_card(payload: bytes) -> dict[str, Any]:
    card = json.loads(payload)
    if not isinstance(card, dict):
        raise ValueError(f"a data card is a JSON object, got {type(card).__name__}")
    return card


def write_card(folder: Path, card: dict[str, Any]) -> Path:
    """Write ``card`` as stable, sorted JSON under a checksum line, atomically (a reader never
    sees half a card; see :mod:`seemlab.runs.cache`)."""
    from seemlab.runs.cache import write_checked

    path = Path(folder) / CARD
    write_checked(path, (json.dumps(card, indent=2, sort_keys=True) + "\n").encode())
    return path


def file_sha256s(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder/data``, keyed by its path relative to ``folder``."""
    out = {}
    for path in sorted((folder / "data").rglob("*")):
        if path.is_file():
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
