"""Evidence frames: stills of a session that show what decided its basket lines, stored as
JPEG with heads blurred (`storelens.privacy.blur_heads`) before they reach the database — no
unblurred face is ever persisted. Reading one is audited by the API (`view_evidence`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from sqlalchemy import Connection, select

from storelens.privacy import blur_heads
from storelens.storage.database import Database, StorageError
from storelens.storage.tables import EvidenceFrameRow

JPEG_QUALITY = 85


@dataclass(frozen=True)
class EvidenceFrame:
    evidence_no: int
    store_id: str
    session_id: str
    camera_id: str
    t: float
    event_id: str | None
    width: int
    height: int
    heads_blurred: int


def store_evidence(
    db: Database,
    *,
    store_id: str,
    session_id: str,
    camera_id: str,
    t: float,
    image: np.ndarray,
    head_discs: np.ndarray,
    event_id: str | None = None,
) -> EvidenceFrame:
    """Blur the heads (`head_discs`: (N, 3) `x, y, r` in pixels), encode, store."""
    if not np.isfinite(t):
        raise StorageError(f"evidence of session {session_id}: t={t} is not a time")
    safe = blur_heads(image, head_discs)
    ok, jpeg = cv2.imencode(".jpg", safe, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise StorageError(f"evidence of session {session_id}: the image would not encode")
    h, w = safe.shape[:2]
    row = {
        "store_id": store_id,
        "session_id": session_id,
        "camera_id": camera_id,
        "t": float(t),
        "event_id": event_id,
        "width": w,
        "height": h,
        "heads_blurred": int(np.asarray(head_discs).reshape(-1, 3).shape[0]),
        "jpeg": jpeg.tobytes(),
        "created_t": time.time(),
    }
    with db.write() as conn:
        no = conn.execute(
            EvidenceFrameRow.__table__.insert()
            .values(**row)
            .returning(EvidenceFrameRow.__table__.c.evidence_no)
        ).scalar_one()
    del row["jpeg"], row["created_t"]
    return EvidenceFrame(evidence_no=no, **row)


def list_evidence(conn: Connection, store_id: str, session_id: str) -> list[EvidenceFrame]:
    e = EvidenceFrameRow.__table__
    cols = [c for c in e.c if c.name not in ("jpeg", "created_t")]
    rows = conn.execute(
        select(*cols)
        .where(e.c.store_id == store_id, e.c.session_id == session_id)
        .order_by(e.c.t, e.c.evidence_no)
    ).mappings()
    return [EvidenceFrame(**r) for r in rows]


def evidence_jpeg(
    conn: Connection, store_id: str, session_id: str, evidence_no: int
) -> bytes | None:
    e = EvidenceFrameRow.__table__
    return conn.execute(
        select(e.c.jpeg).where(
            e.c.store_id == store_id, e.c.session_id == session_id, e.c.evidence_no == evidence_no
        )
    ).scalar_one_or_none()
