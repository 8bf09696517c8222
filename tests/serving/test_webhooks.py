"""Webhooks end to end on real storage (SQLite and PostgreSQL) and a real HTTP receiver on
loopback (allowed by setting, as a deployment must opt in to): each change a saved revision
makes is announced once, signed with the receiver's secret; a receiver that is down or fails
gets the same event again after a backoff; a dispatcher that dies mid-delivery loses nothing;
two dispatchers never send one webhook twice; loopback and private receivers are refused by
default."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from storelens.serving.api import create_app
from storelens.serving.webhooks import (
    Dispatcher,
    ReceiverRefused,
    check_receiver_url,
    endpoint_secret,
    sign,
    verify,
)
from storelens.storage import outbox as ob
from storelens.storage import save_records
from storelens.storage.keys import create_key

SECRET = "w" * 40
STORE = "demo-store"


@pytest.fixture
def receiver(make_receiver):
    return make_receiver()


def _endpoint(db, url, types=ob.EVENT_TYPES):
    return ob.add_endpoint(db, store_id=STORE, url=url, event_types=types)


def _drain(dispatcher, rounds=20):
    for _ in range(rounds):
        if not (r := dispatcher.run_once()).delivered and not r.failed:
            return


def _a_session_with_basket(store_run):
    s = next(
        x
        for x in store_run.sessions
        if any(b.session_id == x.session_id for b in store_run.baskets)
    )
    return s, next(b for b in store_run.baskets if b.session_id == s.session_id)


def test_signatures_verify_and_tampering_or_staleness_does_not():
    body, now = b'{"id":"evt_1"}', int(time.time())
    signature = sign("whsec_x", now, body)
    assert verify("whsec_x", body, signature, str(now))
    assert not verify("whsec_x", body + b" ", signature, str(now))
    assert not verify("whsec_y", body, signature, str(now))
    assert not verify("whsec_x", body, signature, str(now - 3600))
    assert not verify("whsec_x", body, signature, "soon")
    assert endpoint_secret(SECRET, "whe_1") != endpoint_secret(SECRET, "whe_2")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "https://10.1.2.3/x",
        "http://192.168.0.7/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8265/api/jobs",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0:8000/x",
        "http://93.184.216.34:99999/x",
        "ftp://93.184.216.34/x",
        "not a url",
    ],
)
def test_loopback_private_and_odd_receivers_are_refused(url):
    with pytest.raises(ReceiverRefused, match="url"):
        check_receiver_url(url, allow_private=False)


def test_a_public_receiver_is_allowed_and_private_ones_by_setting(monkeypatch):
    assert check_receiver_url("https://93.184.216.34/hook", allow_private=False)
    monkeypatch.setenv("STORELENS_WEBHOOK_ALLOW_PRIVATE", "1")
    assert check_receiver_url("http://127.0.0.1:9/x")


def test_each_change_is_announced_once_and_a_replay_adds_nothing(db, store_run):
    s, basket = _a_session_with_basket(store_run)
    ep = _endpoint(db, "https://93.184.216.34/hook")
    opened = s.model_copy(update={"exit_t": None})
    save_records(db, [opened])
    save_records(db, [opened.revised(exit_t=s.exit_t)])
    save_records(db, [basket])
    save_records(db, [opened, basket])  # a replay
    with db.read() as conn:
        got = ob.deliveries(conn, STORE, endpoint_id=ep.endpoint_id)
    types = [d.event_type for d in reversed(got)]
    assert types == ["session.entered", "session.closed", "session.attributed"]
    assert len({d.event_id for d in got}) == len(got)
    assert all(d.state == "pending" for d in got)


def test_a_revised_basket_and_an_alert_are_announced(db, store_run):
    alert = next(a for a in store_run.alerts)
    basket = next(b for b in store_run.baskets if b.session_id == alert.session_id)
    _endpoint(
        db, "https://93.184.216.34/hook", ["session.updated", "alert.unpaid", "alert.withdrawn"]
    )
    save_records(db, [basket, alert])
    withdrawn = alert.revised(lines=[])
    save_records(db, [basket.revised(lines=basket.lines[:-1]), withdrawn])
    save_records(db, [withdrawn.revised(confidence=0.5)])  # still withdrawn: nothing new
    with db.read() as conn:
        types = Counter(d.event_type for d in ob.deliveries(conn, STORE))
    assert types == {"alert.unpaid": 1, "session.updated": 1, "alert.withdrawn": 1}


def test_webhooks_reach_a_receiver_signed_even_after_it_was_down(
    db, store_run, monkeypatch, make_receiver
):
    monkeypatch.setenv("STORELENS_WEBHOOK_ALLOW_PRIVATE", "1")
    down = make_receiver()
    url = down.url
    down.close()  # nothing listens on its port now
    ep = _endpoint(db, url)
    save_records(db, store_run.sessions[:5])
    dispatcher = Dispatcher(db, SECRET, backoff_base_s=1.0, timeout_s=2)
    first = dispatcher.run_once()
    assert first.delivered == 0 and first.failed > 0
    with db.read() as conn:
        states = ob.deliveries(conn, STORE)
    assert all(d.state == "pending" and d.attempts == 1 and d.last_error for d in states)
    assert dispatcher.run_once().failed == 0  # not due before its backoff
    up = make_receiver(endpoint_secret(SECRET, ep.endpoint_id), port=down.server.server_port)
    try:
        up.fail_next = 2  # it comes back unhealthy at first
        deadline = time.time() + 20
        while time.time() < deadline and len(up.events) < len(states):
            dispatcher.run_once()
            time.sleep(0.1)
        assert up.bad_signatures == 0
        assert sorted(e["id"] for e in up.events) == sorted(d.event_id for d in states)
        assert all(e["origin"]["store_id"] == STORE and e["sent_t"] for e in up.events)
        with db.read() as conn:
            done = ob.deliveries(conn, STORE)
        assert all(d.state == "delivered" for d in done)
        assert max(d.attempts for d in done) >= 2
    finally:
        up.close()
        dispatcher.stop()


def test_a_dispatcher_that_dies_mid_delivery_loses_nothing(db, store_run, receiver, monkeypatch):
    monkeypatch.setenv("STORELENS_WEBHOOK_ALLOW_PRIVATE", "1")
    ep = _endpoint(db, receiver.url, ["session.entered"])
    receiver.secret = endpoint_secret(SECRET, ep.endpoint_id)
    save_records(db, store_run.sessions[:4])
    held = ob.claim(db, "crashed-worker", lease_s=2.0)  # claimed, never sent, never settled
    assert len(held) == 4
    other = Dispatcher(db, SECRET)
    assert other.run_once().delivered == 0  # the lease is still held
    time.sleep(2.1)
    assert other.run_once().delivered == 4
    assert not ob.settle(db, "crashed-worker", held[0], error=None)  # its lease is gone
    assert len(receiver.events) == 4
    other.stop()


def test_two_dispatchers_never_send_one_webhook_twice(db, store_run, receiver, monkeypatch):
    monkeypatch.setenv("STORELENS_WEBHOOK_ALLOW_PRIVATE", "1")
    ep = _endpoint(db, receiver.url, ["session.entered", "session.closed"])
    receiver.secret = endpoint_secret(SECRET, ep.endpoint_id)
    save_records(db, store_run.sessions[:60])
    with db.read() as conn:
        expected = {d.event_id for d in ob.deliveries(conn, STORE, limit=1000)}
    dispatchers = [Dispatcher(db, SECRET, batch=7, worker=f"replica-{i}") for i in range(2)]
    threads = [threading.Thread(target=_drain, args=(d, 50)) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sent = Counter(e["id"] for e in receiver.events)
    assert set(sent) == expected and set(sent.values()) == {1}
    for d in dispatchers:
        d.stop()


@pytest.fixture
def client(db):
    admin = create_key(db, secret=SECRET, store_id=None)[1]
    reader = create_key(db, secret=SECRET, store_id=STORE, role="reader")[1]
    other = create_key(db, secret=SECRET, store_id="other-store", role="reviewer")[1]
    c = TestClient(create_app(db, SECRET))
    h = {
        n: {"Authorization": f"Bearer {k}"}
        for n, k in (("admin", admin), ("reader", reader), ("other", other))
    }
    return c, h


def test_the_api_registers_lists_and_removes_receivers(client, db, store_run, monkeypatch):
    c, h = client
    url = f"/v1/stores/{STORE}/webhooks"
    refused = c.post(url, headers=h["admin"], json={"url": "http://127.0.0.1:9/x"})
    assert refused.status_code == 422 and "STORELENS_WEBHOOK_ALLOW_PRIVATE" in refused.text
    assert (
        c.post(url, headers=h["reader"], json={"url": "https://93.184.216.34/"}).status_code == 403
    )
    assert c.get(url, headers=h["other"]).status_code == 404
    bad = c.post(
        url, headers=h["admin"], json={"url": "https://93.184.216.34/", "event_types": ["x"]}
    )
    assert bad.status_code == 422
    made = c.post(
        url,
        headers=h["admin"],
        json={"url": "https://93.184.216.34/h", "event_types": ["session.closed"]},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"] == endpoint_secret(SECRET, body["endpoint_id"])
    listed = c.get(url, headers=h["admin"]).json()
    assert [e["endpoint_id"] for e in listed] == [body["endpoint_id"]] and "secret" not in listed[0]
    save_records(db, store_run.sessions[:3])
    sent = c.get(f"{url}/deliveries", headers=h["admin"]).json()
    assert {d["event_type"] for d in sent} == {"session.closed"} and len(sent) == 3
    assert c.delete(f"{url}/{body['endpoint_id']}", headers=h["admin"]).status_code == 204
    assert c.delete(f"{url}/{body['endpoint_id']}", headers=h["admin"]).status_code == 404
    assert c.get(url, headers=h["admin"]).json() == []
    sent = c.get(f"{url}/deliveries", headers=h["admin"]).json()
    assert {d["state"] for d in sent} == {"dead"}
