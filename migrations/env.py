"""Alembic's entry point: run the migrations on the store's connection, or on alembic.ini's URL by hand."""

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from adapters.store.tables import metadata

config = context.config


def run_migrations_online() -> None:
    given: Connection | None = config.attributes.get("connection")  # the store's, holding its migration lock
    if given is not None:
        _run(given)
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
