"""Alembic migrations of the program record; `activities/store/sql.py::migrate` runs them."""
