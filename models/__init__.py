"""Small trained models shipped with storelens (each under 15 MB), so the demo runs on a trained
detector without training first. Every model has a MODEL_CARD.md beside it that gives the exact
command, seed, data and measured metrics that produced it."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
DEMO_DETECTOR = MODELS_DIR / "detector" / "sim-coarse-yolo11n.pt"


def demo_detector() -> Path:
    """The person / hand / product detector trained on the simulated demo store."""
    if not DEMO_DETECTOR.is_file():
        raise FileNotFoundError(f"{DEMO_DETECTOR}: the shipped demo detector is missing")
    return DEMO_DETECTOR
