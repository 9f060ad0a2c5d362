"""The integration layer: the dev server in real time (`dev_env`, `dev_harness`), processes of a test's own (a
killed worker, a restarted server, the CLI), SQL on SQLite and PostgreSQL (`database_url`), SMTP on aiosmtpd.
Tests that wait on real time are marked `slow`; `make test-fast` runs the others (SQL and SMTP answer at once)."""
