"""The coordinator's report of a program: aggregates from the read model, charts, one HTML page and CSV files."""
