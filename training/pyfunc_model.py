"""The MLflow model flavours of storelens: a detector (ultralytics weights) and a product
recogniser (embedder + gallery) wrapped as pyfuncs, so a registered version loads by name
(`models:/NAME@champion`) with `mlflow.pyfunc.load_model`; `storelens.training.registry` gets
the underlying objects themselves."""

from __future__ import annotations

import mlflow.pyfunc


class UltralyticsDetector(mlflow.pyfunc.PythonModel):
    """predict(list of image paths or a DataFrame with an `image` column) → one row per box."""

    def load_context(self, context):  # type: ignore[no-untyped-def]  (mlflow reads hints as a schema)
        from storelens.inference.ultralytics_offline import import_ultralytics

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


class ProductRecogniser(mlflow.pyfunc.PythonModel):
    """predict(list of crop image paths or a DataFrame with an `image` column) → the top-5 SKU
    ids and cosine similarities of each crop against the registered gallery."""

    def load_context(self, context):  # type: ignore[no-untyped-def]
        from storelens.inference.product_embedder import load_embedder
        from storelens.inference.product_gallery import ProductGallery

        self.embedder = load_embedder(context.artifacts["embedder"])
        self.gallery = ProductGallery.load(context.artifacts["gallery"])

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        from pathlib import Path

        import pandas as pd

        from storelens.inference.product_embedder import embed_images

        images = (
            list(model_input["image"]) if hasattr(model_input, "columns") else list(model_input)
        )
        labels, scores = self.gallery.search(
            embed_images(self.embedder, [Path(i) for i in images]), k=5
        )
        return pd.DataFrame(
            {
                "image": [str(i) for i in images],
                "sku": labels.tolist(),
                "similarity": scores.tolist(),
            }
        )
