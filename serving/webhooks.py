"""Webhook delivery: signing, the receiver-address policy, and the dispatcher that drains the
outbox (`storelens.storage.outbox`).

**What a receiver gets.** A `POST` with the JSON event (`id`, `type`, `origin`, `created_t`,
`sent_t`, `session_id`, `data`) and three headers:

- `Storelens-Event-Id`: the event id, the same on every retry (dedupe on it);
- `Storelens-Timestamp`: the send time, Unix seconds;
- `Storelens-Signature`: `v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`.

The receiver's secret (`whsec_…`) is shown once when the endpoint is registered; it is not
stored, but derived from the service's secret and the endpoint id (`endpoint_secret`), so the
database alone cannot forge a webhook. `verify` is the check a receiver makes (it also refuses a
timestamp older than five minutes, against replays).

**Where webhooks may go.** `check_receiver_url` refuses a URL that is not http(s) or whose host
resolves to a loopback, private, link-local or otherwise non-global address (Ray's own job API
listens on loopback), unless `allow_private` (`STORELENS_WEBHOOK_ALLOW_PRIVATE=1`). The
dispatcher checks again before every send, so a name that later resolves inward is refused too.

**The dispatcher.** `Dispatcher.run_once()` claims due deliveries for a lease, sends each, and
settles it: a 2xx is delivered; anything else is retried with exponential backoff until the
outbox's last attempt. Any number of dispatchers may run (one per replica): the claim is
exclusive, and a crashed dispatcher's lease runs out and another takes over.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from storelens.storage import Database
from storelens.storage.outbox import BACKOFF_BASE_S, MAX_ATTEMPTS, Delivery, claim, settle

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "Storelens-Signature"
TIMESTAMP_HEADER = "Storelens-Timestamp"
EVENT_ID_HEADER = "Storelens-Event-Id"
TOLERANCE_S = 300


class ReceiverRefused(ValueError):
    """A webhook URL the policy does not allow, with the reason."""


def endpoint_secret(api_secret: str, endpoint_id: str) -> str:
    """The signing secret of one endpoint (shown to its owner once, never stored)."""
    mac = hmac.new(api_secret.encode(), f"webhook:{endpoint_id}".encode(), hashlib.sha256)
    return f"whsec_{mac.hexdigest()}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    signature: str,
    timestamp: str,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """A receiver's check: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
        expected = sign(secret, ts, body)
        return abs((time.time() if now is None else now) - ts) <= tolerance_s and (
            hmac.compare_digest(expected.encode(), str(signature).encode())
        )
    except (TypeError, ValueError):  # a missing or malformed header
        return False


def allow_private_receivers() -> bool:
    return os.environ.get("STORELENS_WEBHOOK_ALLOW_PRIVATE", "") in ("1", "true", "yes")


def check_receiver_url(url: str, *, allow_private: bool | None = None) -> str:
    """`url` if webhooks may be sent there; otherwise `ReceiverRefused` saying why."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ReceiverRefused(f"url {url!r}: the port is not a number in 1..65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReceiverRefused(f"url {url!r}: give an http:// or https:// URL with a host")
    if allow_private is None:
        allow_private = allow_private_receivers()
    if allow_private:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as err:
        raise ReceiverRefused(
            f"url {url!r}: host {parts.hostname!r} does not resolve ({err})"
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ReceiverRefused(
                f"url {url!r}: {parts.hostname} is {address}, not a public address; webhooks "
                "to loopback or private networks need STORELENS_WEBHOOK_ALLOW_PRIVATE=1"
            )
    return url


@dataclass
class DispatchReport:
    delivered: int = 0
    failed: int = 0


class Dispatcher:
    """Drains the outbox of `db`; `worker` names this dispatcher in the leases it takes."""

    def __init__(
        self,
        db: Database,
        api_secret: str,
        *,
        worker: str | None = None,
        timeout_s: float = 5.0,
        lease_s: float = 120.0,
        batch: int = 10,
        backoff_base_s: float = BACKOFF_BASE_S,
        max_attempts: int = MAX_ATTEMPTS,
        allow_private: bool | None = None,
    ) -> None:
        self.db = db
        self.api_secret = api_secret
        # fits `claimed_by` (64 characters) whatever the host name
        self.worker = worker or f"{socket.gethostname()[:40]}:{os.getpid()}:{os.urandom(4).hex()}"
        # a claimed batch is sent one by one: the lease must outlast the slowest whole batch
        # (connect, write, read and pool timeouts of each try), or another replica reclaims
        self.lease_s = max(lease_s, batch * 4 * timeout_s + 10)
        self.batch = batch
        self.backoff_base_s = backoff_base_s
        self.max_attempts = max_attempts
        self.allow_private = allow_private
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _send(self, delivery: Delivery) -> str | None:
        """One try; None when the receiver took it, else what went wrong."""
        try:
            check_receiver_url(delivery.url, allow_private=self.allow_private)
        except ReceiverRefused as err:
            return str(err)
        now = int(time.time())
        payload = json.loads(delivery.body)
        payload["sent_t"] = now
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        secret = endpoint_secret(self.api_secret, delivery.endpoint_id)
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: delivery.event_id,
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: sign(secret, now, body),
            "User-Agent": "storelens-webhooks/1",
        }
        try:
            answer = self.client.post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return f"{type(err).__name__}: {err}"
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"

    def run_once(self) -> DispatchReport:
        """Claim what is due, send it, settle it."""
        report = DispatchReport()
        for delivery in claim(self.db, self.worker, limit=self.batch, lease_s=self.lease_s):
            error = self._send(delivery)
            settle(
                self.db,
                self.worker,
                delivery,
                error=error,
                base_s=self.backoff_base_s,
                max_attempts=self.max_attempts,
            )
            if error is None:
                report.delivered += 1
            else:
                report.failed += 1
                log.info(
                    "webhook %s to endpoint %s: %s", delivery.event_id, delivery.endpoint_id, error
                )
        return report

    def start(self, interval_s: float = 1.0) -> None:
        """Run in a background thread until `stop()`."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    sent = self.run_once()
                except Exception:  # a database hiccup must not end the loop; it is logged
                    log.exception("webhook dispatcher %s", self.worker)
                    sent = DispatchReport()
                if not (sent.delivered or sent.failed):
                    self._stop.wait(interval_s)

        self._thread = threading.Thread(target=loop, name="storelens-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.client.close()
