"""API keys: shown once, stored only as an HMAC, scoped, revocable; `storelens keys create`."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from storelens.cli import app
from storelens.storage import StorageError
from storelens.storage.keys import Role, authenticate, create_key, revoke_key
from storelens.storage.tables import ApiKeyRow

SECRET = "k" * 40


def test_a_key_is_stored_only_as_its_hmac_and_checks_out(db):
    record, key = create_key(db, secret=SECRET, store_id="s1", label="till team")
    with db.read() as conn:
        row = conn.execute(select(ApiKeyRow.__table__)).mappings().one()
    assert key not in str(dict(row)) and row["key_hmac"] != key
    assert authenticate(db, key, secret=SECRET) == record
    assert record.role == Role.REVIEWER and record.may_see("s1") and not record.may_see("s2")
    assert authenticate(db, key, secret="x" * 40) is None  # another secret: not this key
    assert authenticate(db, key[:-1] + ("A" if key[-1] != "A" else "B"), secret=SECRET) is None
    revoke_key(db, record.key_id)
    assert authenticate(db, key, secret=SECRET) is None
    with pytest.raises(StorageError, match="is not a live key"):
        revoke_key(db, record.key_id)


@pytest.mark.parametrize(
    ("secret", "store", "role", "message"),
    [
        ("short", "s1", None, "at least 32 characters"),
        (SECRET, None, "reader", "an admin key has no store"),
        (SECRET, "s1", "admin", "an admin key has no store"),
    ],
)
def test_bad_key_requests_are_refused(db, secret, store, role, message):
    with pytest.raises(StorageError, match=message):
        create_key(db, secret=secret, store_id=store, role=role)


def test_keys_create_prints_the_key_once(tmp_path, monkeypatch):
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'k.db'}"
    monkeypatch.delenv("STORELENS_API_SECRET", raising=False)
    out = runner.invoke(app, ["keys", "create", "--store", "s1", "--url", url])
    assert out.exit_code == 2 and "STORELENS_API_SECRET is not set" in out.output
    monkeypatch.setenv("STORELENS_API_SECRET", SECRET)
    out = runner.invoke(app, ["keys", "create", "--store", "s1", "--url", url])
    assert out.exit_code == 0, out.output
    key = out.output.strip().splitlines()[-1]
    from storelens.storage import Database

    assert authenticate(Database(url), key, secret=SECRET).store_id == "s1"
    both = runner.invoke(app, ["keys", "create", "--store", "s1", "--admin", "--url", url])
    assert both.exit_code == 2 and "exactly one of" in both.output
