"""Deterministic orchestration: one ProgramWorkflow per program run, one PairingWorkflow per pairing."""
