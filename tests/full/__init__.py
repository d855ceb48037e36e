"""Helpers of tests/test_full_paths.py: FULL's datasets made locally, and the shrunk FULL runner."""
