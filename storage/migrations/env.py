"""Alembic's environment for storelens: migrates the connection `Database.migrate()` passes
in (`config.attributes["connection"]`), or the URL of `STORELENS_DATABASE_URL` / the default
SQLite file when run by the `alembic` command."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from storelens.storage.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from storelens.settings import database_url

    engine = create_engine(database_url())
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
