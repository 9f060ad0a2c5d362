"""Recorded workflow histories, replayed by tests/workflows/test_replay.py; `python -m tests.histories.record`
records them."""
