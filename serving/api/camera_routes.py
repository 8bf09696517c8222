"""The API's camera routes: register, remove, inspect one (with the health its serving worker
last reported) and list a store's camera streams. Any key of the store reads; admin keys
register and remove. A stream URI goes in once and never comes back out: every answer carries
it redacted (`rtsp://user:***@host/…`), and it is stored sealed (`storelens.storage.cameras`).
"""

import time
from datetime import datetime
from typing import Literal

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel, Field

from storelens.serving.api.context import RouteContext
from storelens.serving.api.schemas import ErrorOut, _Out, iso
from storelens.storage import StorageError
from storelens.storage import cameras as cams
from storelens.storage.keys import ApiKey

STALE_AFTER_S = 30.0


class CameraIn(BaseModel):
    camera_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    stream_uri: str = Field(
        min_length=1, max_length=2000, examples=["rtsp://viewer:secret@10.0.0.21:554/stream1"]
    )
    label: str = Field("", max_length=128)
    fps: float | None = Field(None, gt=0, le=240)


class CameraHealthOut(_Out):
    state: Literal["starting", "streaming", "reconnecting", "stopped"]
    reported_at: datetime
    age_s: float = Field(description="seconds since the worker's report")
    stale: bool = Field(description=f"no report for more than {STALE_AFTER_S:g} s")
    fps: float
    lag_s: float = Field(description="how far behind the live edge the worker is")
    frames_dropped: int
    worker: str
    detail: str


class CameraOut(_Out):
    camera_id: str
    stream_uri: str = Field(description="redacted: credentials never come back")
    label: str
    fps: float | None
    registered_at: datetime
    health: CameraHealthOut | None = Field(
        None, description="the serving worker's last report; null: none yet (list: not shown)"
    )

    @classmethod
    def of(cls, c: cams.Camera, health: "cams.CameraHealth | None" = None) -> "CameraOut":
        out = None
        if health is not None:
            age = max(0.0, time.time() - health.t)
            out = CameraHealthOut(
                state=health.state,
                reported_at=iso(health.t),
                age_s=round(age, 3),
                stale=age > STALE_AFTER_S,
                fps=health.fps,
                lag_s=health.lag_s,
                frames_dropped=health.frames_dropped,
                worker=health.worker,
                detail=health.detail,
            )
        return cls(
            camera_id=c.camera_id,
            stream_uri=c.stream_uri_redacted,
            label=c.label,
            fps=c.fps,
            registered_at=iso(c.created_t),
            health=out,
        )


def add_camera_routes(app: FastAPI, ctx: RouteContext) -> None:
    """Mount the camera routes on `app` (under `ctx.base`)."""
    db, Key, StoreId = ctx.db, ctx.Key, ctx.StoreId
    admin_only = ctx.admin_responses

    def admin(k: ApiKey, store_id: str) -> None:
        ctx.admin(k, store_id, "cameras are registered and removed")

    @app.put(
        f"{ctx.base}/cameras/{{camera_id}}",
        tags=["cameras"],
        responses={**admin_only, 201: {"model": CameraOut}, 422: {"model": ErrorOut}},
    )
    def put_camera(
        k: Key, store_id: StoreId, camera_id: str, body: CameraIn, response: Response
    ) -> CameraOut:
        """Register a camera stream (or replace its URI); 201 when new, 200 when replaced."""
        admin(k, store_id)
        if body.camera_id != camera_id:
            raise HTTPException(422, f"camera_id {body.camera_id!r} differs from the path's")
        try:
            cam, new = cams.register_camera(
                db,
                ctx.secret,
                store_id=store_id,
                camera_id=camera_id,
                stream_uri=body.stream_uri,
                label=body.label,
                fps=body.fps,
            )
        except StorageError as err:
            raise HTTPException(422, str(err)) from None
        response.status_code = 201 if new else 200
        return CameraOut.of(cam)

    @app.get(f"{ctx.base}/cameras", tags=["cameras"], responses=ctx.responses)
    def cameras(k: Key, store_id: StoreId) -> list[CameraOut]:
        """The store's camera streams, by id."""
        ctx.scoped(k, store_id)
        with db.read() as conn:
            return [CameraOut.of(c) for c in cams.list_cameras(conn, store_id)]

    @app.get(f"{ctx.base}/cameras/{{camera_id}}", tags=["cameras"], responses=ctx.responses)
    def camera(k: Key, store_id: StoreId, camera_id: str) -> CameraOut:
        """One camera stream with the health its serving worker last reported."""
        ctx.scoped(k, store_id)
        with db.read() as conn:
            found = cams.get_camera(conn, store_id, camera_id)
            if found is None:
                raise HTTPException(404, f"no camera {camera_id!r} in store {store_id!r}")
            return CameraOut.of(found, cams.camera_health(conn, store_id, camera_id))

    @app.delete(
        f"{ctx.base}/cameras/{{camera_id}}", tags=["cameras"], status_code=204, responses=admin_only
    )
    def delete_camera(k: Key, store_id: StoreId, camera_id: str) -> None:
        """Stop taking this stream (the worker lets it go at its next look)."""
        admin(k, store_id)
        if not cams.remove_camera(db, store_id, camera_id):
            raise HTTPException(404, f"no camera {camera_id!r} in store {store_id!r}")
