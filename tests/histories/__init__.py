"""Recorded workflow histories, replayed by tests/test_replay.py; `python -m tests.histories.record` records them."""
