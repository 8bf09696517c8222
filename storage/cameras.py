"""Camera streams in storage: a store's registered cameras and the health its serving worker
reports for each.

RTSP URIs carry credentials (`rtsp://user:password@host/…`), so a URI is stored sealed —
encrypted with Fernet under a key derived from the service's secret (`seal` / `unseal`) — and
beside it a redacted copy (`redact`: the password replaced by `***`, query secrets too) that is
the only form any answer, log line or error shows. The worker that opens the stream unseals it
with the same secret.

Health is one row per camera, replaced at each report (`report_health`): the worker's state
(`starting`, `streaming`, `reconnecting`, `stopped`), its frame rate, its lag behind the live
edge and the frames it dropped; `camera_health` reads it back, with its age, for the API.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, select, update

from storelens.storage.database import Database, StorageError, upsert_insert
from storelens.storage.tables import CameraHealthRow, CameraRow

STATES = ("starting", "streaming", "reconnecting", "stopped")


def _fernet(api_secret: str) -> Fernet:
    digest = hashlib.sha256(f"storelens-camera-uri:{api_secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(api_secret: str, uri: str) -> str:
    return _fernet(api_secret).encrypt(uri.encode()).decode()


def unseal(api_secret: str, sealed: str) -> str:
    try:
        return _fernet(api_secret).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise StorageError("a camera URI sealed under another secret cannot be opened") from None


def redact(uri: str) -> str:
    """`uri` with its password and every query value replaced by `***`. Anything it cannot
    take apart cleanly comes back as `scheme://***`: it fails closed, never open."""
    scheme = uri.split(":", 1)[0] if ":" in uri else ""
    closed = f"{scheme}://***" if scheme else "***"
    parts = urlsplit(uri)
    if "://" not in uri:
        return closed if "@" in uri or ":" in uri else uri
    try:
        _ = parts.port, parts.hostname
    except ValueError:
        return closed
    if parts.scheme == "file" and not parts.netloc and "@" not in uri:
        return uri  # a local file: no credentials to hide
    if not parts.netloc or not parts.hostname:
        return closed
    if "@" in uri.split("://", 1)[1].replace(parts.netloc, "", 1):
        return closed  # an '@' past the host: a password with '/', '?' or '#' in it
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = urlencode(
        [(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*"
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


_URI_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+")


def redact_text(text: str) -> str:
    """Every URI inside `text` redacted (for error messages and log lines)."""
    return _URI_IN_TEXT.sub(lambda m: redact(m.group()), text)


@dataclass(frozen=True)
class Camera:
    store_id: str
    camera_id: str
    stream_uri_redacted: str
    label: str
    fps: float | None
    created_t: float


@dataclass(frozen=True)
class CameraHealth:
    camera_id: str
    t: float
    state: str
    fps: float
    lag_s: float
    frames_dropped: int
    worker: str
    detail: str


def _camera(row) -> Camera:  # type: ignore[no-untyped-def]
    return Camera(
        row.store_id, row.camera_id, row.stream_uri_redacted, row.label, row.fps, row.created_t
    )


def register_camera(
    db: Database,
    api_secret: str,
    *,
    store_id: str,
    camera_id: str,
    stream_uri: str,
    label: str = "",
    fps: float | None = None,
) -> tuple[Camera, bool]:
    """Register (or re-register, replacing its URI) a camera; True when it is new. A URI the
    redaction cannot take apart is refused (it could not be shown safely)."""
    if urlsplit(stream_uri).scheme not in ("rtsp", "rtsps", "http", "https", "file", "sim") or (
        redact(stream_uri).endswith("://***")
    ):
        raise StorageError(
            f"stream_uri {redact(stream_uri)!r}: give an rtsp://, rtsps://, http(s)://, file:// "
            "or sim:// URI with a host (percent-encode '/', '?', '#' and '@' in a password)"
        )
    c = CameraRow.__table__
    now = time.time()
    values = {
        "stream_uri_sealed": seal(api_secret, stream_uri),
        "stream_uri_redacted": redact(stream_uri),
        "label": label,
        "fps": fps,
        "removed_t": None,
    }
    with db.write() as conn:
        known = conn.execute(
            select(c.c.created_t).where(c.c.store_id == store_id, c.c.camera_id == camera_id)
        ).scalar_one_or_none()
        if known is None:
            conn.execute(
                c.insert().values(store_id=store_id, camera_id=camera_id, created_t=now, **values)
            )
        else:
            conn.execute(
                update(c)
                .where(c.c.store_id == store_id, c.c.camera_id == camera_id)
                .values(created_t=now, **values)
            )
    return Camera(
        store_id, camera_id, values["stream_uri_redacted"], label, fps, now
    ), known is None


def list_cameras(conn: Connection, store_id: str) -> list[Camera]:
    c = CameraRow.__table__
    rows = conn.execute(
        select(c).where(c.c.store_id == store_id, c.c.removed_t.is_(None)).order_by(c.c.camera_id)
    )
    return [_camera(r) for r in rows]


def get_camera(conn: Connection, store_id: str, camera_id: str) -> Camera | None:
    c = CameraRow.__table__
    row = conn.execute(
        select(c).where(
            c.c.store_id == store_id, c.c.camera_id == camera_id, c.c.removed_t.is_(None)
        )
    ).first()
    return None if row is None else _camera(row)


def stream_uri(conn: Connection, api_secret: str, store_id: str, camera_id: str) -> str | None:
    """The camera's URI in the clear, for the worker that opens the stream."""
    c = CameraRow.__table__
    sealed = conn.execute(
        select(c.c.stream_uri_sealed).where(
            c.c.store_id == store_id, c.c.camera_id == camera_id, c.c.removed_t.is_(None)
        )
    ).scalar_one_or_none()
    return None if sealed is None else unseal(api_secret, sealed)


def remove_camera(db: Database, store_id: str, camera_id: str) -> bool:
    c = CameraRow.__table__
    with db.write() as conn:
        done = conn.execute(
            update(c)
            .where(c.c.store_id == store_id, c.c.camera_id == camera_id, c.c.removed_t.is_(None))
            .values(removed_t=time.time())
        )
    return bool(done.rowcount)


def report_health(
    db: Database,
    *,
    store_id: str,
    camera_id: str,
    state: str,
    fps: float,
    lag_s: float,
    frames_dropped: int,
    worker: str,
    detail: str = "",
    t: float | None = None,
) -> None:
    """What a worker says about a stream now (replaces its previous report)."""
    if state not in STATES:
        raise StorageError(f"camera {camera_id}: state {state!r} is not one of {STATES}")
    row = {
        "store_id": store_id,
        "camera_id": camera_id,
        "t": time.time() if t is None else t,
        "state": state,
        "fps": float(fps),
        "lag_s": float(lag_s),
        "frames_dropped": int(frames_dropped),
        "worker": worker,
        "detail": redact_text(detail),
    }
    h = CameraHealthRow.__table__
    with db.write() as conn:
        stmt = upsert_insert(conn, h).values(**row)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["store_id", "camera_id"],
                set_={k: stmt.excluded[k] for k in row if k not in ("store_id", "camera_id")},
            )
        )


def camera_health(conn: Connection, store_id: str, camera_id: str) -> CameraHealth | None:
    h = CameraHealthRow.__table__
    row = (
        conn.execute(select(h).where(h.c.store_id == store_id, h.c.camera_id == camera_id))
        .mappings()
        .first()
    )  # mappings: a Row's `.t` is SQLAlchemy's tuple view, not the column
    if row is None:
        return None
    return CameraHealth(**{k: v for k, v in row.items() if k != "store_id"})
