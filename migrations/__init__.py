"""Alembic migrations of the program record; `adapters/store/sql.py::migrate` runs them."""
