"""storelens: which shopper took which product, and did they pay for it?

The core package holds what every subpackage shares: the struct-of-arrays `Detections`, box
maths, store layout and camera geometry, domain records, settings and the CLI. It imports no
torch, ray, fastapi or mlflow at module level, so `import storelens` stays fast everywhere.
"""

from storelens._version import __version__
from storelens.detections import Detections

__all__ = ["Detections", "__version__"]
