"""The attribution API: FastAPI under `/v1`, over `storelens.storage` (`app.py` builds it,
`schemas.py` holds what goes over the wire, times as ISO-8601 with a zone)."""

from storelens.serving.api.app import create_app, openapi_schema

__all__ = ["create_app", "openapi_schema"]
