"""The detector on onnxruntime: an ultralytics YOLO exported to ONNX once, run on letterboxed
tensors in batches of any size.

    detector = OnnxDetector("shipped", imgsz=320)
    lb = letterbox(frame, 320)                      # at ingest: only 320 x 320 crosses the wire
    (xyxy, conf, cls), = detector.detect_letterboxed(lb.tensor[None])
    boxes = lb.unletterbox(xyxy)                    # back in the frame's own pixels
    dets = detector(frames)                         # FrameBatch -> Detections

Letterboxing (`letterbox`, `Letterboxed`) is the one ultralytics' `LetterBox` does for a square
`imgsz` (aspect kept, centred, grey 114 padding, the same rounding), so the network sees exactly
what ultralytics' predictor would show it for a square canvas; `storelens.serving.letterbox`
re-exports it for ingest. (It lives here because the inference layer may not import serving.)

The export is cached by the weights' sha256 and `imgsz` under `runs_dir()/onnx-cache/` and
written atomically (exported in a private temporary folder, then renamed into place), so many
replicas may start at once; a cache hit needs neither torch nor ultralytics to load. Decoding
mirrors ultralytics' `non_max_suppression` (best class per anchor, score > conf, class filter,
class-aware NMS by offsetting boxes per class, at most 300 boxes) with `torchvision.ops.nms`.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from storelens.detections import CLASS_NAMES, PERSON, Detections
from storelens.frames import FrameBatch

PAD_VALUE = 114  # ultralytics' LetterBox grey
MAX_WH = 7680  # ultralytics' per-class box offset for class-aware NMS
MAX_DET = 300
MAX_NMS = 30000
CACHE_FOLDER = "onnx-cache"

Result = tuple[np.ndarray, np.ndarray, np.ndarray]  # xyxy (n, 4), conf (n,), class_id (n,)


class ModelLoadError(RuntimeError):
    """A model reference that cannot be resolved or loaded; the message names the reference."""


# --- letterboxing ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Letterboxed:
    """One frame resized into a (size, size) canvas, with what it takes to map boxes back.

    Attributes:
        tensor: (size, size, 3) BGR uint8, C-contiguous.
        scale: resize factor (canvas pixels per original pixel).
        pad_x, pad_y: left and top padding in canvas pixels.
        width, height: the original frame's size in pixels.
        new_width, new_height: the resized frame's size inside the canvas (rounded as
            ultralytics rounds them; boxes are mapped back with these exact ratios).
    """

    tensor: np.ndarray
    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int
    new_width: int
    new_height: int

    @property
    def size(self) -> int:
        return int(self.tensor.shape[0])

    def unletterbox(self, xyxy: np.ndarray) -> np.ndarray:
        """(n, 4) boxes in canvas pixels -> float32 boxes in original pixels, clipped to the
        frame (ultralytics' `scale_boxes`)."""
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - self.pad_x) / (self.new_width / self.width)
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - self.pad_y) / (self.new_height / self.height)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, self.width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, self.height)
        return boxes


def letterbox(image: np.ndarray, size: int) -> Letterboxed:
    """`image` (H, W, 3) BGR uint8 resized keeping its aspect and padded to (size, size) with
    grey 114, exactly as ultralytics' `LetterBox(new_shape=(size, size), auto=False)`."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"letterbox: expected an (H, W, 3) uint8 image, got {img.shape} {img.dtype}"
        )
    if size <= 0:
        raise ValueError(f"letterbox: size must be positive, got {size}")
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    top, left = round(dh - 0.1), round(dw - 0.1)
    resized = img if (w, h) == (new_w, new_h) else cv2.resize(img, (new_w, new_h))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    return Letterboxed(
        canvas, float(r), int(left), int(top), int(w), int(h), int(new_w), int(new_h)
    )


# --- model files -----------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights_file(model_ref: str | Path) -> Path:
    from storelens.inference.loading import model_file

    try:
        if str(model_ref).endswith(".onnx"):
            path = Path(model_ref)
            if not path.is_file():
                raise FileNotFoundError(f"{model_ref}: no such ONNX file")
            return path
        return model_file(model_ref)
    except Exception as err:
        raise ModelLoadError(f"model {str(model_ref)!r} cannot be loaded: {err}") from err


def export_onnx(weights: Path, imgsz: int, cache_dir: Path | None = None) -> Path:
    """The ONNX export of ultralytics `weights` at `imgsz` (dynamic batch), from the cache when
    it holds one for the same weights bytes and size, else exported and renamed into place."""
    from storelens.settings import runs_dir

    folder = Path(cache_dir) if cache_dir is not None else runs_dir() / CACHE_FOLDER
    target = folder / f"{_sha256(weights)[:16]}-{imgsz}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    from storelens.inference.ultralytics_offline import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    try:
        # ultralytics writes the .onnx beside the weights: export a private copy, never the
        # original's folder (the shipped model lives inside the package)
        copy = work / "model.pt"
        shutil.copyfile(weights, copy)
        exported = YOLO(str(copy)).export(
            format="onnx", imgsz=imgsz, dynamic=True, simplify=True, verbose=False
        )
        os.replace(exported, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


# --- the detector ----------------------------------------------------------------------------


class OnnxDetector:
    """`detector(frames) -> Detections` and `detector.detect_letterboxed(tensors)` on
    onnxruntime, for an ultralytics YOLO given by reference (see `storelens.inference.loading`:
    `shipped`, a weights path, `models:/NAME@alias`; an `.onnx` file is used as it is).

    Args:
        model_ref: the model.
        imgsz: the square canvas side frames are letterboxed to.
        conf: minimum score kept.
        iou: NMS IoU threshold.
        threads: onnxruntime intra-op threads (None: onnxruntime's default).
        classes: storelens class ids to keep; each must be a class name the model knows.
    """

    def __init__(
        self,
        model_ref: str | Path = "shipped",
        imgsz: int = 320,
        conf: float = 0.05,
        iou: float = 0.7,
        threads: int | None = None,
        classes: Sequence[int] = (PERSON,),
    ) -> None:
        import onnxruntime as ort

        self.model_ref = str(model_ref)
        self.imgsz, self.conf, self.iou = int(imgsz), float(conf), float(iou)
        weights = _weights_file(model_ref)
        try:
            onnx_file = weights if weights.suffix == ".onnx" else export_onnx(weights, self.imgsz)
            options = ort.SessionOptions()
            if threads is not None:
                options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            self.session = ort.InferenceSession(
                str(onnx_file), options, providers=["CPUExecutionProvider"]
            )
        except ModelLoadError:
            raise
        except Exception as err:
            raise ModelLoadError(f"model {self.model_ref!r} cannot be loaded: {err}") from err
        self.onnx_file = Path(onnx_file)
        self._sha256 = _sha256(weights)
        meta = self.session.get_modelmeta().custom_metadata_map
        raw_names = ast.literal_eval(meta.get("names", "{}"))
        self.names: dict[int, str] = {int(k): str(v) for k, v in raw_names.items()}
        by_name = {v: k for k, v in self.names.items()}
        missing = [CLASS_NAMES.get(c, str(c)) for c in classes if CLASS_NAMES.get(c) not in by_name]
        if missing:
            raise ValueError(
                f"classes: model {self.model_ref!r} has no class {missing} "
                f"(it knows {sorted(by_name)})"
            )
        self.classes = tuple(int(c) for c in classes)
        self._model_classes = np.array([by_name[CLASS_NAMES[c]] for c in classes], np.int64)
        self._to_storelens = np.full(max(self.names) + 1, -1, np.int64)
        for c in classes:
            self._to_storelens[by_name[CLASS_NAMES[c]]] = c
        self._input = self.session.get_inputs()[0].name
        self.detect_letterboxed(np.full((1, self.imgsz, self.imgsz, 3), PAD_VALUE, np.uint8))

    @property
    def model_version(self) -> str:
        """`<weights sha256 prefix>@<imgsz>`: changes whenever the weights or the size do."""
        return f"{self._sha256[:12]}@{self.imgsz}"

    def raw(self, tensors: np.ndarray) -> np.ndarray:
        """The network's output (B, 4 + nc, anchors) for (B, S, S, 3) BGR uint8 tensors."""
        batch = np.asarray(tensors)
        if batch.ndim != 4 or batch.shape[1:] != (self.imgsz, self.imgsz, 3):
            raise ValueError(
                f"expected (B, {self.imgsz}, {self.imgsz}, 3) letterboxed tensors, "
                f"got {batch.shape}"
            )
        x = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
        x *= 1.0 / 255.0
        return self.session.run(None, {self._input: x})[0]

    def detect_letterboxed(self, tensors: np.ndarray) -> list[Result]:
        """Per tensor: (xyxy (n, 4) float32 in canvas pixels, conf (n,) float32, class_id (n,)
        int64 storelens ids), best first."""
        if len(tensors) == 0:
            return []
        return [self._decode(pred) for pred in self.raw(tensors)]

    def _decode(self, pred: np.ndarray) -> Result:
        import torch
        import torchvision

        scores = pred[4:]  # (nc, anchors)
        best = scores.argmax(0)
        conf = scores[best, np.arange(scores.shape[1])]
        keep = (conf > self.conf) & np.isin(best, self._model_classes)
        if not keep.any():
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        xywh, conf, best = pred[:4, keep].T, conf[keep], best[keep]
        if len(conf) > MAX_NMS:
            top = np.argsort(-conf, kind="stable")[:MAX_NMS]
            xywh, conf, best = xywh[top], conf[top], best[top]
        xyxy = np.empty_like(xywh)
        half = xywh[:, 2:] / 2
        xyxy[:, :2] = xywh[:, :2] - half
        xyxy[:, 2:] = xywh[:, :2] + half
        offset = best[:, None].astype(np.float32) * MAX_WH
        kept = torchvision.ops.nms(
            torch.from_numpy(xyxy + offset), torch.from_numpy(conf), self.iou
        ).numpy()[:MAX_DET]
        return (
            np.ascontiguousarray(xyxy[kept], np.float32),
            conf[kept].astype(np.float32),
            self._to_storelens[best[kept]],
        )

    def __call__(self, frames: FrameBatch) -> Detections:
        if frames.images is None:
            raise ValueError("OnnxDetector: the frame batch carries no images")
        boxed = [letterbox(image, self.imgsz) for image in frames.images]
        if not boxed:
            return Detections.empty()
        results = self.detect_letterboxed(np.stack([b.tensor for b in boxed]))
        counts = np.array([len(r[0]) for r in results])
        return Detections(
            xyxy=np.concatenate([b.unletterbox(r[0]) for b, r in zip(boxed, results, strict=True)]),
            confidence=np.concatenate([r[1] for r in results]),
            class_id=np.concatenate([r[2] for r in results]),
            camera_id=np.repeat(frames.camera_id, counts),
            timestamp=np.repeat(frames.timestamp, counts),
            data={"frame_index": np.repeat(frames.frame_index, counts)},
        )

    def __repr__(self) -> str:
        return f"OnnxDetector({self.model_ref!r}, version={self.model_version}, conf={self.conf})"
