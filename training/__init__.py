"""storelens.training: detector training, evaluation, export and registration.

Built on ultralytics and MLflow.

Knows nothing about serving or tracking internals. Heavy imports (torch, ultralytics, mlflow)
happen inside functions, so importing this package is cheap.
"""
