"""Alembic environment: runs migrations on the connection handed over by :mod:`chainsleuth.store.migrate`.

Users never see an ``alembic.ini``: the Config is built in code with the connection in ``config.attributes``.
SQLite cannot ALTER most things, so migrations there run in batch mode (copy, alter, swap), which the
``render_as_batch`` flag also makes autogenerate emit for new revisions.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from chainsleuth.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="chainsleuth.store.types.",
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from chainsleuth.store.db import create_engine_for

        engine = create_engine_for(config.get_main_option("sqlalchemy.url"))
        try:
            with engine.connect() as fresh:
                _configure(fresh)
                with context.begin_transaction():
                    context.run_migrations()
                fresh.commit()
        finally:
            engine.dispose()
        return
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("chainsleuth migrations run online only: use `chainsleuth db upgrade`")
run_migrations_online()
