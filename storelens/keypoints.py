"""The COCO-17 person keypoints every storelens body file and model speaks: joint names in
order, the limb list, the left–right flip and the wrists' indices.

A keypoint is `x, y, v` in pixels with COCO's visibility flag: 0 unlabelled (x = y = 0),
1 labelled but hidden, 2 labelled and visible.
"""

from __future__ import annotations

COCO_KEYPOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
N_KEYPOINTS = len(COCO_KEYPOINTS)
# COCO's limb list (1-based joint numbers, as in person_keypoints_*.json)
COCO_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip
# joint index seen in a mirrored image (ultralytics' `flip_idx`)
FLIP_INDEX = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
LEFT_WRIST, RIGHT_WRIST = 9, 10
# a top-down pose model sees a person's box grown by this share of its size on every side
CROP_MARGIN = 0.15
# COCO's per-joint OKS constants (sigmas), from the keypoint evaluation of cocoapi
OKS_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
