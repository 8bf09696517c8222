"""Export a detector to ONNX (and TorchScript) and check the export against the torch model.

The check runs both on the same images at the export size, twice: the raw head outputs (every
candidate box and class score, before NMS) must agree within `raw_tolerance` (boxes as a
fraction of the image size), and after NMS every confident torch box must have an export box
of the same class with IoU ≥ `min_iou` and a confidence within `max_conf_diff`. Serving uses
ONNX on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storelens.boxes import box_iou_batch
from storelens.inference.loading import load_detector


@dataclass(frozen=True)
class ExportCheck:
    path: Path
    images: int
    torch_boxes: int
    matched: int
    min_iou: float
    max_conf_diff: float
    max_raw_diff: float
    raw_tolerance: float

    @property
    def ok(self) -> bool:
        return self.matched == self.torch_boxes and self.max_raw_diff <= self.raw_tolerance


def export_detector(weights: str | Path, fmt: str = "onnx", imgsz: int = 320) -> Path:
    """Write the export beside the weights; returns its path."""
    if fmt not in ("onnx", "torchscript"):
        raise ValueError(f"format: {fmt!r} is not one of onnx, torchscript")
    model = load_detector(weights)
    return Path(
        model.export(format=fmt, imgsz=imgsz, dynamic=False, simplify=fmt == "onnx", verbose=False)
    )


def check_export(
    weights: str | Path,
    exported: str | Path,
    images: list[str | Path],
    imgsz: int = 320,
    conf: float = 0.25,
    min_iou: float = 0.9,
    max_conf_diff: float = 0.05,
    raw_tolerance: float = 1e-3,
) -> ExportCheck:
    """Run the torch and the exported model on `images`; see the module docstring."""
    torch_model = load_detector(weights)
    export_model = (
        load_detector(exported) if str(exported).endswith(".pt") else _load_export(exported)
    )
    n_torch = n_matched = 0
    worst_iou, worst_conf = 1.0, 0.0
    for image in images:
        a = torch_model.predict(str(image), imgsz=imgsz, conf=conf, verbose=False)[0].boxes
        b = export_model.predict(str(image), imgsz=imgsz, conf=conf * 0.8, verbose=False)[0].boxes
        xa, ca, ka = a.xyxy.numpy(), a.conf.numpy(), a.cls.numpy()
        xb, cb, kb = b.xyxy.numpy(), b.conf.numpy(), b.cls.numpy()
        n_torch += len(xa)
        if len(xa) == 0 or len(xb) == 0:
            continue
        iou = box_iou_batch(xa, xb) * (ka[:, None] == kb[None, :])
        best = iou.argmax(axis=1)
        best_iou = iou[np.arange(len(xa)), best]
        conf_diff = np.abs(ca - cb[best])
        good = (best_iou >= min_iou) & (conf_diff <= max_conf_diff)
        n_matched += int(good.sum())
        worst_iou = min(worst_iou, float(best_iou.min()))
        worst_conf = max(worst_conf, float(conf_diff.max()))
    raw = (
        _raw_difference(torch_model, exported, images, imgsz)
        if str(exported).endswith(".onnx")
        else 0.0
    )
    return ExportCheck(
        Path(exported), len(images), n_torch, n_matched, worst_iou, worst_conf, raw, raw_tolerance
    )


def _raw_difference(
    torch_model, onnx_path: str | Path, images: list[str | Path], imgsz: int
) -> float:  # type: ignore[no-untyped-def]
    """Largest difference of the raw (pre-NMS) outputs; box coordinates scaled by 1 / imgsz."""
    import cv2
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    net = torch_model.model.float().eval()
    worst = 0.0
    for image in images:
        rgb = cv2.cvtColor(cv2.resize(cv2.imread(str(image)), (imgsz, imgsz)), cv2.COLOR_BGR2RGB)
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        with torch.inference_mode():
            ours = net(torch.from_numpy(x))
        ours = (ours[0] if isinstance(ours, (list, tuple)) else ours).numpy()
        theirs = session.run(None, {name: x})[0]
        scale = np.ones((1, ours.shape[1], 1), np.float32)
        scale[:, :4] = 1.0 / imgsz
        worst = max(worst, float(np.abs((ours - theirs) * scale).max()))
    return worst


def _load_export(path: str | Path):  # type: ignore[no-untyped-def]
    from storelens.inference.ultralytics_offline import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(path), task="detect")
