"""The attribution API over real storage (SQLite and PostgreSQL) filled from an attributed
simulated run: keys scoped to stores, pages that walk every session once, one session with the
evidence behind each line, reviews recorded, idempotent POS / RFID ingestion with 409 and 422
naming the record, analytics, and times with a zone at the edge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from storelens.serving.api import create_app
from storelens.storage import save_records
from storelens.storage.keys import create_key, revoke_key

SECRET = "s" * 40
STORE = "demo-store"


@pytest.fixture
def api(db, store_run):
    save_records(
        db, [*store_run.sessions, *store_run.events, *store_run.baskets, *store_run.alerts]
    )
    keys = {
        "reviewer": create_key(db, secret=SECRET, store_id=STORE, label="ana")[1],
        "reader": create_key(db, secret=SECRET, store_id=STORE, role="reader")[1],
        "other": create_key(db, secret=SECRET, store_id="other-store")[1],
        "admin": create_key(db, secret=SECRET, store_id=None)[1],
    }
    client = TestClient(create_app(db, SECRET))
    return client, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}


def _walk(client, url, headers, **params):
    items, cursor = [], None
    while True:
        r = client.get(
            url, headers=headers, params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def test_health_and_readiness(api):
    client, _ = api
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["schema"]


def test_keys_are_needed_and_scoped_to_their_store(api, db):
    client, h = api
    url = f"/v1/stores/{STORE}/sessions"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer slk_x_y"}).status_code == 401
    assert client.get(url, headers=h["other"]).status_code == 404  # not 403: B does not exist for A
    assert client.get(url, headers=h["admin"]).status_code == 200
    for route in ("sessions", "events", "alerts", "analytics/skus", "analytics/hours"):
        assert client.get(f"/v1/stores/{STORE}/{route}", headers=h["other"]).status_code == 404
    assert client.post(f"/v1/stores/{STORE}/pos", headers=h["other"], json=[]).status_code == 404
    assert client.post(f"/v1/stores/{STORE}/pos", headers=h["reader"], json=[]).status_code == 403
    record, key = create_key(db, secret=SECRET, store_id=STORE)
    revoke_key(db, record.key_id)
    assert client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_session_pages_walk_every_session_once_in_order(api, store_run):
    client, h = api
    items = _walk(client, f"/v1/stores/{STORE}/sessions", h["reader"], limit=6)
    want = sorted(store_run.sessions, key=lambda s: (s.enter_t, s.session_id))
    assert [s["session_id"] for s in items] == [s.session_id for s in want]
    first = items[0]
    assert datetime.fromisoformat(first["entered_at"]).timestamp() == pytest.approx(want[0].enter_t)
    assert first["entered_at"].endswith("Z") or first["entered_at"].endswith("+00:00")


def test_filters_and_times_need_a_zone(api, store_run):
    client, h = api
    alerted = {a.session_id for a in store_run.alerts if not a.withdrawn}
    got = _walk(client, f"/v1/stores/{STORE}/sessions", h["reader"], has_alert="true", limit=50)
    assert {s["session_id"] for s in got} == alerted
    cut = sorted(s.enter_t for s in store_run.sessions)[5]
    since = datetime.fromtimestamp(cut, UTC).isoformat()
    later = _walk(client, f"/v1/stores/{STORE}/sessions", h["reader"], since=since)
    assert len(later) == sum(s.enter_t >= cut for s in store_run.sessions)
    naive = client.get(
        f"/v1/stores/{STORE}/sessions", headers=h["reader"], params={"since": "2026-11-25T10:00:00"}
    )
    assert naive.status_code == 400 and "give a zone" in naive.json()["detail"]
    bad = client.get(f"/v1/stores/{STORE}/sessions", headers=h["reader"], params={"cursor": "zz"})
    assert bad.status_code == 400 and "is not one this API handed out" in bad.json()["detail"]


def test_one_session_carries_what_decided_each_line_and_reviews_are_kept(api, store_run):
    client, h = api
    alert = next(a for a in store_run.alerts if not a.withdrawn)
    basket = next(b for b in store_run.baskets if b.session_id == alert.session_id)
    url = f"/v1/stores/{STORE}/sessions/{alert.session_id}"
    body = client.get(url, headers=h["reader"]).json()
    assert body["session"]["has_alert"] and body["basket_id"] == basket.basket_id
    assert [
        (ln["sku"], ln["qty"], ln["status"], ln["event_ids"], ln["read_ids"])
        for ln in body["lines"]
    ] == [(ln.sku, ln.qty, ln.status.value, ln.event_ids, ln.read_ids) for ln in basket.lines]
    assert alert.alert_id in {a["alert_id"] for a in body["alerts"]}
    assert (
        client.post(f"{url}/reviews", headers=h["reader"], json={"verdict": "reviewed"}).status_code
        == 403
    )
    r1 = client.post(
        f"{url}/reviews",
        headers=h["reviewer"],
        json={"verdict": "contested", "reason": "the tag was a staff read"},
    )
    r2 = client.post(f"{url}/reviews", headers=h["reviewer"], json={"verdict": "reviewed"})
    assert r1.status_code == 201 and r2.status_code == 201
    body = client.get(url, headers=h["reader"]).json()
    assert body["session"]["lifecycle"] == "reviewed"
    assert [r["verdict"] for r in body["reviews"]] == ["contested", "reviewed"]
    assert "(ana)" in body["reviews"][0]["reviewer"]
    assert client.get(f"/v1/stores/{STORE}/audit", headers=h["reviewer"]).status_code == 403
    log = client.get(f"/v1/stores/{STORE}/audit", headers=h["admin"]).json()
    assert [e["action"] for e in log] == ["view_session", "review", "review", "view_session"]
    assert {e["target"] for e in log} == {alert.session_id}
    bad = client.post(f"{url}/reviews", headers=h["reviewer"], json={"verdict": "attributed"})
    assert bad.status_code == 422
    missing = client.get(f"/v1/stores/{STORE}/sessions/nope", headers=h["reader"])
    assert missing.status_code == 404


def test_pos_and_rfid_ingestion_over_http(api, store_run):
    client, h = api
    url = f"/v1/stores/{STORE}/pos"
    batch = [t.model_dump(mode="json") for t in store_run.pos[:6]]
    first = client.post(url, headers=h["reviewer"], json=batch)
    assert first.status_code == 200 and len(first.json()["stored"]) == 6
    again = client.post(url, headers=h["reviewer"], json=batch)
    assert again.status_code == 200 and sorted(again.json()["already_stored"]) == sorted(
        first.json()["stored"]
    )
    changed = [dict(batch[0], terminal_id="pos-9")]
    conflict = client.post(url, headers=h["reviewer"], json=changed)
    assert conflict.status_code == 409
    assert conflict.json()["refused"][0]["record_id"] == batch[0]["txn_id"]
    fresh = [t.model_dump(mode="json") for t in store_run.pos[6:9]]
    broken = [*fresh[:1], {**fresh[1], "t": "yesterday"}, fresh[2]]
    mixed = client.post(url, headers=h["reviewer"], json=broken)
    assert mixed.status_code == 422
    err = mixed.json()["refused"][0]
    assert (err["index"], err["field"], err["conflict"]) == (1, "t", False)
    assert sorted(mixed.json()["stored"]) == sorted([fresh[0]["txn_id"], fresh[2]["txn_id"]])
    reads = [r.model_dump(mode="json") for r in store_run.rfid[:10]]
    assert (
        client.post(f"/v1/stores/{STORE}/rfid", headers=h["reviewer"], json=reads).status_code
        == 200
    )
    wrong = client.post(
        f"/v1/stores/{STORE}/rfid",
        headers=h["admin"],
        json=[dict(reads[0], read_id="x1", store_id="other-store")],
    )
    assert wrong.status_code == 422 and wrong.json()["refused"][0]["field"] == "store_id"


def test_events_alerts_and_analytics(api, store_run):
    client, h = api
    ev = store_run.events[0]
    one = client.get(f"/v1/stores/{STORE}/events/{ev.event_id}", headers=h["reader"]).json()
    assert (one["sku"], one["shelf_id"], one["kind"]) == (ev.sku, ev.shelf_id, ev.kind.value)
    mine = _walk(client, f"/v1/stores/{STORE}/events", h["reader"], shopper_id=ev.shopper_id)
    assert {e["event_id"] for e in mine} == {
        e.event_id for e in store_run.events if e.shopper_id == ev.shopper_id
    }
    alerts = _walk(client, f"/v1/stores/{STORE}/alerts", h["reader"])
    assert {a["alert_id"] for a in alerts} == {
        a.alert_id for a in store_run.alerts if not a.withdrawn
    }
    skus = client.get(f"/v1/stores/{STORE}/analytics/skus", headers=h["reader"]).json()
    assert sum(s["picks"] for s in skus) == sum(
        e.quantity for e in store_run.events if e.kind == "pick"
    )
    shelves = client.get(f"/v1/stores/{STORE}/analytics/shelves", headers=h["reader"]).json()
    assert {s["key"] for s in shelves} == {e.shelf_id for e in store_run.events}
    hours = client.get(f"/v1/stores/{STORE}/analytics/hours", headers=h["reader"]).json()
    assert sum(x["sessions"] for x in hours) == len(store_run.sessions)
    assert all(x["hour"].endswith(("Z", "+00:00")) for x in hours)


def test_the_openapi_schema_names_every_route():
    from storelens.storage import Database

    app = create_app(Database("sqlite://"), SECRET)
    paths = app.openapi()["paths"]
    for route in (
        "sessions",
        "sessions/{session_id}",
        "sessions/{session_id}/reviews",
        "events",
        "events/{event_id}",
        "alerts",
        "pos",
        "rfid",
        "analytics/skus",
        "analytics/shelves",
        "analytics/hours",
        "audit",
    ):
        assert f"/v1/stores/{{store_id}}/{route}" in paths
    assert "409" in paths["/v1/stores/{store_id}/pos"]["post"]["responses"]


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(db):
    _, key = create_key(db, secret=SECRET, store_id=STORE)
    client = TestClient(create_app(db, SECRET, rate_per_s=0.5, burst=3))
    headers = {"Authorization": f"Bearer {key}"}
    codes = [
        client.get(f"/v1/stores/{STORE}/alerts", headers=headers).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    limited = client.get(f"/v1/stores/{STORE}/alerts", headers=headers)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) == 2
    _, other = create_key(db, secret=SECRET, store_id=STORE)  # another key has its own bucket
    assert (
        client.get(
            f"/v1/stores/{STORE}/alerts", headers={"Authorization": f"Bearer {other}"}
        ).status_code
        == 200
    )


def test_token_buckets_refill_at_the_rate():
    from storelens.serving.api.limits import RateLimits

    now = [0.0]
    limits = RateLimits(2.0, 2, clock=lambda: now[0])
    assert [limits.take("k") for _ in range(2)] == [0.0, 0.0]
    assert limits.take("k") == pytest.approx(0.5)
    now[0] = 0.5
    assert limits.take("k") == 0.0 and limits.take("k") > 0
    with pytest.raises(ValueError, match="must be positive"):
        RateLimits(0, 1)


def test_metrics_count_requests_by_route_and_ingested_records(api, store_run):
    client, h = api
    client.get(f"/v1/stores/{STORE}/sessions", headers=h["reader"])
    batch = [t.model_dump(mode="json") for t in store_run.pos[:3]]
    client.post(f"/v1/stores/{STORE}/pos", headers=h["reviewer"], json=batch)
    client.post(f"/v1/stores/{STORE}/pos", headers=h["reviewer"], json=batch)
    text = client.get("/metrics").text
    route = 'route="/v1/stores/{store_id}/sessions"'
    assert f'storelens_api_request_seconds_count{{method="GET",{route},status="200"}} 1.0' in text
    assert 'storelens_api_ingested_records_total{kind="pos",outcome="stored"} 3.0' in text
    assert 'storelens_api_ingested_records_total{kind="pos",outcome="already_stored"} 3.0' in text


def test_the_published_schema_is_the_apps(repo_root):
    from storelens.serving.api import openapi_schema

    published = repo_root / "docs" / "api" / "openapi.json"
    assert published.read_text() == openapi_schema(), (
        "docs/api/openapi.json is stale: storelens api --openapi docs/api/openapi.json"
    )
