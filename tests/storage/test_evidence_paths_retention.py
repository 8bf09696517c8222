"""Evidence frames (heads blurred before they are stored, views audited), floor paths read back
per session, and retention that deletes what is older than its period and nothing else — on
SQLite and PostgreSQL, through the API where a user would see it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from storelens.privacy import blur_heads, head_discs
from storelens.serving.api import create_app
from storelens.storage import Database, save_records
from storelens.storage.audit import audit_entries
from storelens.storage.derived import count_rows
from storelens.storage.evidence import store_evidence
from storelens.storage.ingest import ingest_pos, ingest_rfid
from storelens.storage.keys import create_key
from storelens.storage.paths import save_paths, session_path
from storelens.storage.retention import purge
from storelens.storage.tables import (
    BasketLineRow,
    BasketRow,
    EvidenceFrameRow,
    PosTransactionRow,
    RfidReadRow,
    SessionRow,
    ShelfEventRow,
)

SECRET = "e" * 40
STORE = "demo-store"


def _detail(image: np.ndarray, disc) -> float:
    """Variance of the Laplacian inside a disc: high for a sharp face, low once blurred."""
    x, y, r = (int(v) for v in disc)
    patch = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[
        y - r // 2 : y + r // 2, x - r // 2 : x + r // 2
    ]
    return float(cv2.Laplacian(patch, cv2.CV_64F).var())


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)  # detail everywhere


def test_heads_are_blurred_and_nothing_else_changes():
    image = _scene()
    discs = head_discs([[80, 60], [250, 150]], [240, 200])
    out = blur_heads(image, discs)
    for d in discs:
        assert _detail(out, d) < 0.05 * _detail(image, d)
    yy, xx = np.mgrid[:240, :320]
    outside = np.ones((240, 320), bool)
    for x, y, r in discs:
        outside &= (xx - x) ** 2 + (yy - y) ** 2 > (r + 1) ** 2  # a pixel of rounding
    assert np.array_equal(out[outside], image[outside])
    assert np.array_equal(blur_heads(image, np.zeros((0, 3))), image)
    with pytest.raises(ValueError, match="positive radius"):
        blur_heads(image, [[10, 10, 0]])
    with pytest.raises(ValueError, match="uint8"):
        blur_heads(image.astype(float), discs)


@pytest.fixture
def stored(db, store_run):
    save_records(
        db, [*store_run.sessions, *store_run.events, *store_run.baskets, *store_run.alerts]
    )
    save_paths(db, STORE, store_run.paths)
    return db


def test_a_session_has_its_path_and_its_blurred_evidence_over_the_api(stored, store_run):
    db = stored
    s = next(x for x in store_run.sessions if x.exit_t is not None)
    image = _scene(1)
    discs = head_discs([[160, 80]], [220])
    frame = store_evidence(
        db,
        store_id=STORE,
        session_id=s.session_id,
        camera_id="cam-1",
        t=s.enter_t + 1,
        image=image,
        head_discs=discs,
    )
    key = create_key(db, secret=SECRET, store_id=STORE, role="reader")[1]
    other = create_key(db, secret=SECRET, store_id="other-store")[1]
    c = TestClient(create_app(db, SECRET))
    h = {"Authorization": f"Bearer {key}"}
    body = c.get(f"/v1/stores/{STORE}/sessions/{s.session_id}", headers=h).json()
    (path,) = [p for p in body["path"] if p["points"]]
    assert path["shopper_id"] in s.shopper_ids and len(path["points"]) > 10
    with db.read() as conn:
        raw = session_path(conn, s)[path["shopper_id"]]
    assert s.enter_t <= raw[0][0] <= raw[-1][0] <= s.exit_t
    mask = store_run.paths.shopper_id == path["shopper_id"]
    assert np.abs(store_run.paths.xy[mask]).max() + 1e-3 >= np.abs(np.array(raw)[:, 1:]).max()
    (ev,) = body["evidence"]
    assert ev["heads_blurred"] == 1 and ev["evidence_no"] == frame.evidence_no
    jpeg = c.get(ev["url"], headers=h)
    assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
    seen = cv2.imdecode(np.frombuffer(jpeg.content, np.uint8), cv2.IMREAD_COLOR)
    assert _detail(seen, discs[0]) < 0.1 * _detail(image, discs[0])
    assert c.get(ev["url"], headers={"Authorization": f"Bearer {other}"}).status_code == 404
    missing = ev["url"].replace(f"/{frame.evidence_no}.jpg", "/999.jpg")
    assert c.get(missing, headers=h).status_code == 404
    with db.read() as conn:
        actions = [e.action for e in audit_entries(conn, STORE)]
    assert actions == ["view_session", "view_evidence"]


def test_saving_the_same_paths_again_stores_nothing(db, store_run):
    first = save_paths(db, STORE, store_run.paths)
    assert first > 0
    save_paths(db, STORE, store_run.paths)
    from storelens.storage.tables import ShopperPathRow

    assert count_rows(db, ShopperPathRow.__table__) == first


def test_paths_saved_as_they_grow_keep_every_point(db, store_run, tmp_path):
    """A live worker saves the paths so far every few seconds: each save extends the stretches
    stored before, so a session's path ends where the shopper was last, not at the first save."""
    from storelens.attribution import FloorPaths
    from storelens.storage.tables import ShopperPathRow

    paths = store_run.paths
    t = np.unique(paths.t)
    for cut in (t[len(t) // 4], t[len(t) // 2], t[-1]):
        keep = paths.t <= cut
        save_paths(db, STORE, FloorPaths(paths.shopper_id[keep], paths.t[keep], paths.xy[keep]))
    fresh = Database(f"sqlite:///{tmp_path / 'whole.db'}")
    fresh.migrate()
    once = save_paths(fresh, STORE, paths)
    assert count_rows(db, ShopperPathRow.__table__) == once
    with db.read() as grown, fresh.read() as whole:
        for session in store_run.sessions:
            assert session_path(grown, session) == session_path(whole, session), session

    fresh.close()


def test_retention_deletes_what_ended_before_the_cutoff_and_nothing_else(stored, store_run):
    db = stored
    ingest_pos(db, store_run.pos)
    ingest_rfid(db, store_run.rfid)
    ended = sorted(s.exit_t if s.exit_t is not None else s.enter_t for s in store_run.sessions)
    cutoff = ended[len(ended) // 2]
    old = {s.session_id for s in store_run.sessions if (s.exit_t or s.enter_t) < cutoff}
    with_evidence = (
        store_run.sessions[:1] + [x for x in store_run.sessions if x.session_id not in old][:1]
    )
    for s in with_evidence:
        store_evidence(
            db,
            store_id=STORE,
            session_id=s.session_id,
            camera_id="c",
            t=s.enter_t,
            image=_scene(),
            head_discs=np.zeros((0, 3)),
        )
    kept_pos, kept_rfid = (
        count_rows(db, PosTransactionRow.__table__),
        count_rows(db, RfidReadRow.__table__),
    )
    now = cutoff + 30 * 86400.0
    assert purge(db, older_than_s=30 * 86400.0, store_id="other-store", now=now).total == 0
    report = purge(db, older_than_s=30 * 86400.0, now=now)
    assert report.deleted["sessions"] == len(old)
    keep_baskets = [b for b in store_run.baskets if b.session_id not in old]
    assert count_rows(db, BasketRow.__table__) == len(keep_baskets)
    assert count_rows(db, BasketLineRow.__table__) == sum(len(b.lines) for b in keep_baskets)
    assert count_rows(db, SessionRow.__table__) == len(store_run.sessions) - len(old)
    assert count_rows(db, ShelfEventRow.__table__) == sum(e.t >= cutoff for e in store_run.events)
    assert count_rows(db, EvidenceFrameRow.__table__) == sum(
        x.session_id not in old for x in with_evidence
    )
    assert count_rows(db, PosTransactionRow.__table__) == kept_pos
    assert count_rows(db, RfidReadRow.__table__) == kept_rfid
    assert purge(db, older_than_s=30 * 86400.0, now=now).total == 0  # done: nothing more
