"""API keys: made once, stored only as an HMAC-SHA256 under the service's secret, checked in
constant time.

A key reads `slk_<key id>_<secret part>`; the key id finds the row, and the HMAC of the whole key
must match what is stored (`hmac.compare_digest`). A key is scoped to one store (roles `reader`,
`reviewer`) or is an admin key (no store, role `admin`). The secret comes from the service's
settings (`STORELENS_API_SECRET`); without it, neither keys nor the API work.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update

from storelens.storage.database import Database, StorageError
from storelens.storage.tables import ApiKeyRow

PREFIX = "slk"
MIN_SECRET_CHARS = 32


class Role(StrEnum):
    READER = "reader"  # reads its store
    REVIEWER = "reviewer"  # reads, reviews sessions, sends POS and RFID
    ADMIN = "admin"  # every store, and keys


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    store_id: str | None
    role: Role
    label: str

    def may_see(self, store_id: str) -> bool:
        return self.role == Role.ADMIN or self.store_id == store_id


def _mac(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def check_secret(secret: str | None) -> str:
    if not secret or len(secret) < MIN_SECRET_CHARS:
        raise StorageError(
            f"the API secret (STORELENS_API_SECRET) must be at least {MIN_SECRET_CHARS} "
            "characters; make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return secret


def create_key(
    db: Database,
    *,
    secret: str | None,
    store_id: str | None,
    role: Role | str | None = None,
    label: str = "",
    now: float | None = None,
) -> tuple[ApiKey, str]:
    """A new key: its record and the key itself (shown once; only its HMAC is stored). A
    store key defaults to `reviewer`; no store means an admin key."""
    secret = check_secret(secret)
    role = Role(role) if role is not None else (Role.ADMIN if store_id is None else Role.REVIEWER)
    if (role == Role.ADMIN) != (store_id is None):
        raise StorageError(
            f"role {role.value!r} with store {store_id!r}: an admin key has no store, a "
            "reader or reviewer key has one"
        )
    key_id = secrets.token_hex(8)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    with db.write() as conn:
        conn.execute(
            ApiKeyRow.__table__.insert().values(
                key_id=key_id,
                key_hmac=_mac(secret, key),
                store_id=store_id,
                role=role.value,
                label=label,
                created_t=time.time() if now is None else now,
                revoked_t=None,
            )
        )
    return ApiKey(key_id, store_id, role, label), key


def authenticate(db: Database, presented: str, *, secret: str) -> ApiKey | None:
    """The key's record if `presented` is a live key, else None (never says which part failed)."""
    parts = presented.split("_", 2)  # the secret part may itself hold "_"
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    t = ApiKeyRow.__table__
    with db.read() as conn:
        row = conn.execute(select(t).where(t.c.key_id == parts[1])).mappings().first()
    if row is None or row["revoked_t"] is not None:
        hmac.compare_digest(_mac(secret, presented), "0" * 64)  # same work either way
        return None
    if not hmac.compare_digest(_mac(secret, presented), row["key_hmac"]):
        return None
    return ApiKey(row["key_id"], row["store_id"], Role(row["role"]), row["label"])


def revoke_key(db: Database, key_id: str, *, now: float | None = None) -> None:
    t = ApiKeyRow.__table__
    with db.write() as conn:
        done = conn.execute(
            update(t)
            .where(t.c.key_id == key_id, t.c.revoked_t.is_(None))
            .values(revoked_t=time.time() if now is None else now)
        ).rowcount
    if not done:
        raise StorageError(f"key {key_id!r} is not a live key")
