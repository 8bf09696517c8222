"""The MLflow model flavour of a storelens detector: ultralytics weights wrapped as a pyfunc, so
a registered version loads by name (`models:/NAME@champion`) with `mlflow.pyfunc.load_model`,
and `storelens.training.registry.load_detector` gets the YOLO object itself."""

from __future__ import annotations

import mlflow.pyfunc


class UltralyticsDetector(mlflow.pyfunc.PythonModel):
    """predict(list of image paths or a DataFrame with an `image` column) → one row per box."""

    def load_context(self, context):  # type: ignore[no-untyped-def]  (mlflow reads hints as a schema)
        from storelens.training.offline import import_ultralytics

        import_ultralytics()
        from ultralytics import YOLO

        self.model = YOLO(context.artifacts["weights"])

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        import pandas as pd

        images = (
            list(model_input["image"]) if hasattr(model_input, "columns") else list(model_input)
        )
        rows = []
        for image, result in zip(images, self.model.predict(images, verbose=False), strict=True):
            boxes = result.boxes
            for xyxy, conf, cls in zip(
                boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist(), strict=True
            ):
                rows.append(
                    {
                        "image": str(image),
                        "class_id": int(cls),
                        "confidence": float(conf),
                        "x1": xyxy[0],
                        "y1": xyxy[1],
                        "x2": xyxy[2],
                        "y2": xyxy[3],
                    }
                )
        return pd.DataFrame(
            rows, columns=["image", "class_id", "confidence", "x1", "y1", "x2", "y2"]
        )
