"""Camera streams over the API on real storage: registered by admin keys, listed and inspected
by any key of the store, never shown with their credentials (not in answers, not in errors,
not in the database in the clear), the worker's health report read back with its age."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from storelens.serving.api import create_app
from storelens.storage import StorageError
from storelens.storage import cameras as cams
from storelens.storage.keys import create_key
from storelens.storage.tables import CameraRow

SECRET = "c" * 40
STORE = "demo-store"
URI = "rtsp://viewer:hunter2-secret@10.0.0.21:554/stream1?token=abc123&channel=1"


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (URI, "rtsp://viewer:***@10.0.0.21:554/stream1?token=***&channel=***"),
        ("rtsp://u:pa/ss@h/x", "rtsp://***"),
        ("rtsp:/u:pw@h/x", "rtsp://***"),
        ("rtsp:u:pw@h", "rtsp://***"),
        ("rtsp://u:pw@h:99999/x", "rtsp://***"),
        ("rtsp://10.0.0.9/live", "rtsp://10.0.0.9/live"),
        ("rtsp://admin@cam.local/live", "rtsp://admin@cam.local/live"),
        (
            "https://u:p@cdn.example.com/s.m3u8?sig=x",
            "https://u:***@cdn.example.com/s.m3u8?sig=***",
        ),
    ],
)
def test_uris_are_redacted(uri, shown):
    assert cams.redact(uri) == shown
    assert "hunter2" not in cams.redact_text(f"could not open {URI}: 401")


def test_a_sealed_uri_opens_only_with_its_secret():
    sealed = cams.seal(SECRET, URI)
    assert "hunter2" not in sealed and cams.unseal(SECRET, sealed) == URI
    with pytest.raises(StorageError, match="another secret"):
        cams.unseal("d" * 40, sealed)


@pytest.fixture
def client(db):
    keys = {
        "admin": create_key(db, secret=SECRET, store_id=None)[1],
        "reader": create_key(db, secret=SECRET, store_id=STORE, role="reader")[1],
        "other": create_key(db, secret=SECRET, store_id="other-store")[1],
    }
    c = TestClient(create_app(db, SECRET))
    return c, {n: {"Authorization": f"Bearer {k}"} for n, k in keys.items()}


def test_register_inspect_list_and_remove_cameras(client, db):
    c, h = client
    url = f"/v1/stores/{STORE}/cameras"
    body = {"camera_id": "ceil-sw", "stream_uri": URI, "label": "south-west", "fps": 15}
    assert c.put(f"{url}/ceil-sw", headers=h["reader"], json=body).status_code == 403
    assert c.put(f"{url}/ceil-sw", headers=h["other"], json=body).status_code == 404
    made = c.put(f"{url}/ceil-sw", headers=h["admin"], json=body)
    assert made.status_code == 201, made.text
    assert "hunter2" not in made.text and made.json()["stream_uri"].startswith("rtsp://viewer:***@")
    again = c.put(f"{url}/ceil-sw", headers=h["admin"], json={**body, "label": "SW corner"})
    assert again.status_code == 200 and again.json()["label"] == "SW corner"
    bad = c.put(
        f"{url}/x",
        headers=h["admin"],
        json={**body, "camera_id": "x", "stream_uri": "ftp://u:pw@h/"},
    )
    assert bad.status_code == 422 and "pw" not in bad.text and "u:***@h" in bad.text
    odd = c.put(
        f"{url}/y",
        headers=h["admin"],
        json={**body, "camera_id": "y", "stream_uri": "rtsp://u:pa/ss@h/x"},
    )
    assert odd.status_code == 422 and "pa/ss" not in odd.text
    one = c.get(f"{url}/ceil-sw", headers=h["reader"]).json()
    assert one["health"] is None
    cams.report_health(
        db,
        store_id=STORE,
        camera_id="ceil-sw",
        state="reconnecting",
        fps=0.0,
        lag_s=4.5,
        frames_dropped=12,
        worker="worker-1",
        detail=f"lost {URI}",
        t=time.time() - 60,
    )
    health = c.get(f"{url}/ceil-sw", headers=h["reader"]).json()["health"]
    assert health["state"] == "reconnecting" and health["stale"] and health["age_s"] >= 59
    assert health["frames_dropped"] == 12 and "hunter2" not in health["detail"]
    assert [x["camera_id"] for x in c.get(url, headers=h["reader"]).json()] == ["ceil-sw"]
    with db.read() as conn:
        stored = conn.execute(select(CameraRow.__table__)).mappings().one()
        assert "hunter2" not in " ".join(str(v) for v in stored.values())
        assert cams.stream_uri(conn, SECRET, STORE, "ceil-sw") == URI  # what the worker opens
    assert c.delete(f"{url}/ceil-sw", headers=h["reader"]).status_code == 403
    assert c.delete(f"{url}/ceil-sw", headers=h["admin"]).status_code == 204
    assert c.get(f"{url}/ceil-sw", headers=h["reader"]).status_code == 404
    assert c.get(url, headers=h["reader"]).json() == []
    with pytest.raises(StorageError, match="state"):
        cams.report_health(
            db,
            store_id=STORE,
            camera_id="x",
            state="fine",
            fps=1,
            lag_s=0,
            frames_dropped=0,
            worker="w",
        )
