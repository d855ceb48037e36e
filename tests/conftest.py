from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def claims_dir(tmp_path, monkeypatch):
    """Claim records of a test go to a fresh folder, never into the book."""
    folder = tmp_path / "claims"
    monkeypatch.setenv("SEEMLAB_CLAIMS_DIR", str(folder))
    return folder
