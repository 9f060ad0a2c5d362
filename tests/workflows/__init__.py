"""The workflows layer: programs and pairings on a time-skipping server of each test's own (`env`, `harness`),
where time moves on when the test says so; the portal runs in-process. The worker keeps its record in a SQLite file
of the test's, as it does by default; tests of the SQL layer itself, on SQLite and PostgreSQL, are integration
tests. `make test-fast` runs it all."""
