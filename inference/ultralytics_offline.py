"""Keeping ultralytics fully offline: no font, weight or asset download, no pip auto-install.

Call `ensure_offline()` before anything imports ultralytics (every storelens entry point into
ultralytics goes through `import_ultralytics()`, which does). It sets ultralytics' environment
switches, gives it a config folder of ours with a local TTF under the name it looks for
(`Arial.ttf`, from matplotlib's bundled DejaVu Sans), and turns off its Ray Tune and sync
callbacks. Measured facts behind each step are in the project's STACK notes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

from storelens.inference.allocator import keep_freed_memory
from storelens.settings import settings

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def ensure_offline(config_dir: str | Path | None = None) -> Path:
    """Prepare the environment; returns ultralytics' user config folder (with the fonts)."""
    import matplotlib

    base = Path(config_dir) if config_dir else settings().ultralytics_config_dir
    os.environ.setdefault("YOLO_CONFIG_DIR", str(base))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    user_dir = Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics"
    user_dir.mkdir(parents=True, exist_ok=True)
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in FONT_NAMES:
        target = user_dir / name
        if not target.is_file():
            shutil.copyfile(font, target)
    return user_dir


def import_ultralytics() -> ModuleType:
    """`import ultralytics` with the offline environment and settings in place, and freed
    activation memory kept in the process (`storelens.inference.allocator`)."""
    ensure_offline()
    keep_freed_memory()
    import ultralytics
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"raytune": False, "sync": False})
    return ultralytics
