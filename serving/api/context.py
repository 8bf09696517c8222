"""What the app hands the route modules it mounts (`camera_routes`, `webhook_routes`): the
database, the secret, the store-scoped base path, the key and store-id parameters, and the
scope checks every route makes."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

from storelens.serving.api.schemas import ErrorOut
from storelens.storage import Database
from storelens.storage.keys import ApiKey, Role


@dataclass(frozen=True)
class RouteContext:
    db: Database
    secret: str
    base: str  # /v1/stores/{store_id}
    Key: Any  # the authenticated key, as a route parameter
    StoreId: Any  # the store id path parameter
    scoped: Callable[..., None]  # 404 outside the key's store (403 for a reader's write)
    responses: dict  # the errors every store-scoped route may answer

    @property
    def admin_responses(self) -> dict:
        return {**self.responses, 403: {"model": ErrorOut, "description": "not an admin key"}}

    def admin(self, k: ApiKey, store_id: str, what: str) -> None:
        """In scope and an admin key, else 404 / 403 saying `what` needs one."""
        self.scoped(k, store_id)
        if k.role != Role.ADMIN:
            raise HTTPException(403, f"{what} with admin keys")
