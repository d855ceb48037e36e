from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def claims_dir(tmp_path, monkeypatch):
    """Claim records of a test go to a fresh folder, never into the book."""
    folder = tmp_path / "claims"
    monkeypatch.setenv("SEEMLAB_CLAIMS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True, scope="session")
def fresh_run_cache(tmp_path_factory):
    """Every test session trains into an empty run cache (as CI does), never reading the runs a
    developer's ``_cache`` holds: a cached result must not hide what a fresh machine would do."""
    import os

    before = os.environ.get("SEEMLAB_CACHE_DIR")
    os.environ["SEEMLAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("run-cache"))
    yield
    if before is None:
        os.environ.pop("SEEMLAB_CACHE_DIR")
    else:
        os.environ["SEEMLAB_CACHE_DIR"] = before


@pytest.fixture
def synthetic(monkeypatch):
    """``local:synthetic`` is the in-memory tiny dataset of ``tests/synthetic.py``, with a fixed
    content identity, for the run layer."""
    from seemlab import runs
    from synthetic import tiny_dataset

    monkeypatch.setattr(runs, "load_dataset", lambda spec, fraction=1.0, normalize=True: tiny_dataset())
    monkeypatch.setattr(runs, "dataset_id", lambda spec: f"content of {spec}")


@pytest.fixture
def cache(tmp_path, monkeypatch, synthetic):
    """A fresh run-cache folder, with ``local:synthetic`` (see :func:`synthetic`)."""
    from seemlab import runs

    monkeypatch.setenv(runs.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"
