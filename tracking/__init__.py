"""storelens.tracking: per-camera multi-object tracking, hand–person linking, shelf events,
cross-camera association, sessions, the attribution join and tracking metrics.

Never imports ray or fastapi: the same code runs offline in a notebook and inside serving.
"""
