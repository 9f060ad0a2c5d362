"""The domain layer: pure code and files, with no Temporal server and no database (the engine's rules, matching,
specs and rosters at the door, the seams between packages). `make test-fast` runs it all."""
