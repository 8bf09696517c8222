"""storelens.tracking: the online chain — per-camera multi-object tracking (numpy backend, or the
CUDA kernels of `cuda/` on a GPU or through their CPU shim: `backend.py`), and the
`StorePipeline` that steps a store frame by frame. Hands, shelf events, cross-camera identities
and sessions join it as they land.

Only code that runs online lives here: no benchmarks, metrics or data-set readers (those are
`storelens.evaluation` and `storelens.datasets`). Never imports ray, fastapi, datasets,
inference or evaluation: models reach the pipeline as objects passed in, so the same code runs
offline in a notebook and inside serving.
"""
