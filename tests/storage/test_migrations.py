"""Alembic's migrations build exactly the schema `tables.py` declares, on both back ends, and
run again as a no-op; a bad URL is named."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from storelens.storage import Database, StorageError
from storelens.storage.database import alembic_config
from storelens.storage.tables import Base


def test_migrated_database_matches_the_declared_tables(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert db.current_revision() == head


def test_migrating_again_changes_nothing_and_downgrade_then_upgrade_works(db):
    db.migrate()
    from alembic import command

    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert db.current_revision() is None
    db.migrate()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_one_head_and_every_revision_has_a_downgrade():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    for rev in script.walk_revisions():
        assert callable(getattr(rev.module, "downgrade", None)), rev.revision


@pytest.mark.parametrize(
    ("url", "schema", "message"),
    [
        ("not a url", None, "is not an SQLAlchemy URL"),
        ("mysql://u@h/db", None, "stores to sqlite or postgresql"),
        ("sqlite:///x.db", "s1", "a schema is for PostgreSQL"),
        ("postgresql+psycopg://u@h/db", "Robert'); drop", "not a plain lower-case SQL name"),
    ],
)
def test_bad_database_settings_are_named(url, schema, message):
    with pytest.raises(StorageError, match=message):
        Database(url, schema=schema)


def test_the_default_url_is_an_sqlite_file_in_the_runs_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("STORELENS_DATABASE_URL", raising=False)
    monkeypatch.setenv("STORELENS_RUNS_DIR", str(tmp_path / "runs"))
    db = Database()
    assert db.dialect == "sqlite" and db.url.database == str(tmp_path / "runs" / "storelens.db")
    db.migrate()
    assert (tmp_path / "runs" / "storelens.db").is_file()
    monkeypatch.setenv("STORELENS_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert Database().url.database == str(tmp_path / "other.db")
