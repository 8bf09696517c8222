"""storelens.serving: the Ray Serve application — stream ingest, batched detection, per-store
tracker actors, the FastAPI attribution API and SQL storage.

Holds no business logic that offline evaluation would miss; nothing imports this package.
"""
