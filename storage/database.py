"""The connection to storage: one `Database` per process (built where it is used, never at
import time — under Ray Serve each replica builds its own), migrated by Alembic.

- SQLite by default (`storelens.settings.database_url()`: `runs/storelens.db`): write-ahead
  log, `synchronous=FULL` (a committed batch survives a crash of the machine, not only of the
  process), foreign keys on, a 30 s busy timeout, and write transactions that take the write
  lock when they begin (`BEGIN IMMEDIATE`), so concurrent writers queue instead of failing
  half-way.
- PostgreSQL by URL (`postgresql+psycopg://user@host:5432/db`); `schema` puts every table,
  the Alembic version table included, in a schema of its own (tests use one each).

`Database.migrate()` brings the schema to the newest Alembic revision (`migrations/versions/`);
`write()` and `read()` hand out a connection inside one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class StorageError(ValueError):
    """Storage refused something (a bad URL, a conflicting record): the message says what."""


class Database:
    """An engine on `url` (default: `storelens.settings.database_url()`).

    Example:
        >>> db = Database("sqlite:///runs/demo.db")  # doctest: +SKIP
        >>> db.migrate()                             # doctest: +SKIP
        >>> with db.write() as conn: ...             # doctest: +SKIP
    """

    def __init__(self, url: str | None = None, *, schema: str | None = None) -> None:
        if url is None:
            from storelens.settings import database_url

            url = database_url()
        try:
            parsed = make_url(url)
        except Exception as err:  # sqlalchemy.exc.ArgumentError: not a URL at all
            raise StorageError(f"database url {url!r} is not an SQLAlchemy URL: {err}") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StorageError(
                f"database url {parsed.render_as_string(hide_password=True)!r}: storelens "
                "stores to sqlite or postgresql"
            )
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise StorageError(f"schema {schema!r} is not a plain lower-case SQL name")
        if schema is not None and self.dialect != "postgresql":
            raise StorageError("a schema is for PostgreSQL; an SQLite file is its own schema")
        self.url = parsed
        self.schema = schema
        self.engine = self._engine()

    def __repr__(self) -> str:
        where = f", schema={self.schema!r}" if self.schema else ""
        return f"Database({self.url.render_as_string(hide_password=True)!r}{where})"

    def _engine(self) -> Engine:
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(self.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        args = {"options": f"-csearch_path={self.schema}"} if self.schema else {}
        return create_engine(self.url, connect_args=args, pool_pre_ping=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction: committed when the block ends, rolled back on
        an exception. On SQLite the write lock is taken at the start."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(storelens_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (one consistent view)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (creating the PostgreSQL schema first if named)."""
        from alembic import command

        if self.schema is not None:
            with self.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        with self.engine.begin() as conn:
            cfg = alembic_config(conn)
            command.upgrade(cfg, revision)

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at (None: never migrated)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def drop_schema(self) -> None:
        """PostgreSQL: drop this database's schema and everything in it (tests clean up)."""
        if self.schema is None:
            raise StorageError("drop_schema needs a PostgreSQL schema")
        self.engine.dispose()
        admin = create_engine(self.url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()

    def close(self) -> None:
        self.engine.dispose()


def upsert_insert(conn: Connection, table):  # -> the dialect's Insert (on_conflict_do_*)
    """`INSERT` for `table` in the connection's dialect, with `ON CONFLICT` clauses
    (SQLite and PostgreSQL spell them alike; SQLAlchemy's core `insert` has none)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def alembic_config(connection: Connection | None = None):  # -> alembic.config.Config
    """Alembic's config for storelens' migrations, on `connection` when given (what `env.py`
    then migrates)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's begin event below issues BEGIN
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("storelens_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
