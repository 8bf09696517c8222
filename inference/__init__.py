"""storelens.inference: the runtime for trained models, shared by training, evaluation and
serving.

Loading a detector or embedder from a path or a `models:/NAME@alias` URI (`loading`), the
ultralytics → `Detections` adapter (`detector`), one pretrained MobileNetV2 builder
(`mobilenet`) for the person and product embedders, the product gallery, and the process
settings models need (offline ultralytics, glibc's allocator, where MLflow writes). Trains
nothing and never imports training, datasets, tracking, evaluation or serving. Heavy imports
(torch, ultralytics, mlflow) happen inside functions.
"""
