"""Tests of seemlab.data (a package, so its conftest does not shadow tests/conftest.py)."""
