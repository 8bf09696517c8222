"""storelens.training: detector and product-recogniser training, export and registration.

Built on ultralytics and MLflow; trained models are loaded through `storelens.inference`.
Knows nothing about serving or tracking internals. Heavy imports (torch, ultralytics, mlflow)
happen inside functions, so importing this package is cheap.
"""
