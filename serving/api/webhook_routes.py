"""The API's webhook routes: a store's receivers (register, list, remove) and what was sent to
them. Admin keys only: a receiver gets every session of its store.

`POST /v1/stores/{store_id}/webhooks` answers with the endpoint's signing secret, once; it is
never shown again (it is derived, not stored: `storelens.serving.webhooks.endpoint_secret`).
A URL on loopback or a private network is refused (422) unless the service allows it.
"""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from storelens.serving.api.context import RouteContext
from storelens.serving.api.schemas import ErrorOut, _Out, iso
from storelens.serving.webhooks import ReceiverRefused, check_receiver_url, endpoint_secret
from storelens.storage import outbox as ob
from storelens.storage.keys import ApiKey

EventType = Literal[
    "session.entered",
    "session.closed",
    "session.attributed",
    "session.updated",
    "alert.unpaid",
    "alert.withdrawn",
]
assert set(EventType.__args__) == set(ob.EVENT_TYPES)  # type: ignore[attr-defined]


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, examples=["https://backend.example.com/storelens"])
    event_types: list[EventType] = Field(
        default=list(ob.EVENT_TYPES), min_length=1, description="what to send (default: all)"
    )


class WebhookOut(_Out):
    endpoint_id: str
    url: str
    event_types: list[EventType]
    created_at: datetime

    @classmethod
    def of(cls, e: ob.WebhookEndpoint) -> "WebhookOut":
        return cls(
            endpoint_id=e.endpoint_id,
            url=e.url,
            event_types=list(e.event_types),
            created_at=iso(e.created_t),
        )


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="verify `Storelens-Signature` with this; shown only now")


class DeliveryOut(_Out):
    event_id: str
    endpoint_id: str
    event_type: EventType
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    created_at: datetime
    due_at: datetime
    delivered_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, d: ob.DeliveryState) -> "DeliveryOut":
        return cls(
            event_id=d.event_id,
            endpoint_id=d.endpoint_id,
            event_type=d.event_type,
            state=d.state,
            attempts=d.attempts,
            created_at=iso(d.created_t),
            due_at=iso(d.due_t),
            delivered_at=iso(d.delivered_t),
            last_error=d.last_error,
        )


def add_webhook_routes(app: FastAPI, ctx: RouteContext) -> None:
    """Mount the webhook routes on `app` (under `ctx.base`)."""
    db, Key, StoreId = ctx.db, ctx.Key, ctx.StoreId
    admin_only = ctx.admin_responses

    def admin(k: ApiKey, store_id: str) -> None:
        ctx.admin(k, store_id, "webhooks are managed")

    @app.post(
        f"{ctx.base}/webhooks",
        tags=["webhooks"],
        status_code=201,
        responses={**admin_only, 422: {"model": ErrorOut, "description": "a refused URL"}},
    )
    def create_webhook(k: Key, store_id: StoreId, body: WebhookIn) -> WebhookCreatedOut:
        """Register a receiver for the store's webhooks; its signing secret comes back once."""
        admin(k, store_id)
        try:
            check_receiver_url(body.url)
        except ReceiverRefused as err:
            raise HTTPException(422, str(err)) from None
        ep = ob.add_endpoint(db, store_id=store_id, url=body.url, event_types=body.event_types)
        return WebhookCreatedOut(
            **WebhookOut.of(ep).model_dump(), secret=endpoint_secret(ctx.secret, ep.endpoint_id)
        )

    @app.get(f"{ctx.base}/webhooks", tags=["webhooks"], responses=admin_only)
    def webhooks(k: Key, store_id: StoreId) -> list[WebhookOut]:
        """The store's receivers."""
        admin(k, store_id)
        with db.read() as conn:
            return [WebhookOut.of(e) for e in ob.list_endpoints(conn, store_id)]

    @app.delete(
        f"{ctx.base}/webhooks/{{endpoint_id}}",
        tags=["webhooks"],
        status_code=204,
        responses=admin_only,
    )
    def delete_webhook(k: Key, store_id: StoreId, endpoint_id: str) -> None:
        """Stop sending to a receiver; what it had not yet received is dropped."""
        admin(k, store_id)
        if not ob.remove_endpoint(db, store_id, endpoint_id):
            raise HTTPException(404, f"no webhook {endpoint_id!r} in store {store_id!r}")

    @app.get(f"{ctx.base}/webhooks/deliveries", tags=["webhooks"], responses=admin_only)
    def webhook_deliveries(
        k: Key,
        store_id: StoreId,
        endpoint_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[DeliveryOut]:
        """What was sent (or is still due), newest first."""
        admin(k, store_id)
        with db.read() as conn:
            found = ob.deliveries(conn, store_id, endpoint_id=endpoint_id, limit=limit)
        return [DeliveryOut.of(d) for d in found]
