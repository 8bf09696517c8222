"""Fixtures of the serving tests. A webhook receiver: a real HTTP server on 127.0.0.1 that
checks every signature with the endpoint's secret, keeps the events it accepted, and can be
told to answer 503 to the next few deliveries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from storelens.serving.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies every signature and can be told to fail."""

    def __init__(self, secret: str | None = None, port: int = 0) -> None:
        self.secret = secret
        self.events: list[dict] = []
        self.bad_signatures = 0
        self.fail_next = 0
        self.closed = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                ok = verify(
                    receiver.secret,
                    body,
                    self.headers[SIGNATURE_HEADER],
                    self.headers[TIMESTAMP_HEADER],
                )
                event = json.loads(body)
                if not ok or event["id"] != self.headers[EVENT_ID_HEADER]:
                    receiver.bad_signatures += 1
                    self.send_response(400)
                else:
                    receiver.events.append(event)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_receiver():
    """`make_receiver(secret=None, port=0)` starts a `Receiver`; all are closed afterwards."""
    made: list[Receiver] = []

    def make(secret: str | None = None, port: int = 0) -> Receiver:
        made.append(Receiver(secret, port))
        return made[-1]

    yield make
    for r in made:
        r.close()
