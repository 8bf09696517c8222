"""Letterboxing at ingest: each camera frame is resized into the detector's square canvas where
it is decoded, so only model-sized tensors (e.g. 320 x 320 x 3 bytes) cross the wire to the
detector service, which maps its boxes back with `Letterboxed.unletterbox`.

    lb = letterbox(frame, 320)          # lb.tensor: (320, 320, 3) uint8, grey 114 padding
    boxes = lb.unletterbox(xyxy)        # canvas pixels -> the frame's own pixels (clipped)

The transform is ultralytics' `LetterBox` for a square `imgsz`, pixel for pixel. It is defined
beside the ONNX detector (`storelens.inference.onnx_detector`), which letterboxes the same way
when it is given whole frames: the inference layer may not import serving.
"""

from storelens.inference.onnx_detector import PAD_VALUE, Letterboxed, letterbox

__all__ = ["PAD_VALUE", "Letterboxed", "letterbox"]
