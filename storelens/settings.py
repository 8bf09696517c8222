"""Where storelens finds things on this machine, each overridable by an environment variable.

`../shared/data` exists on the project's machines and in CI, never on a user's machine: code
reaches it only through `shared_data_dir()`, which returns None when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA_ENV = "STORELENS_SHARED_DATA"
RUNS_DIR_ENV = "STORELENS_RUNS_DIR"
BOXMOT_PYTHON_ENV = "STORELENS_BOXMOT_PYTHON"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """`$STORELENS_SHARED_DATA`, else `../shared/data` beside the checkout or the cwd, else None."""
    explicit = os.environ.get(SHARED_DATA_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        return path if path.is_dir() else None
    for base in (_REPO_ROOT, Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def runs_dir() -> Path:
    """Where generated data goes (git-ignored): `$STORELENS_RUNS_DIR` or `./runs`."""
    return Path(os.environ.get(RUNS_DIR_ENV, "runs")).expanduser()


def boxmot_python() -> Path | None:
    """The interpreter of boxmot's own environment (a benchmark peer; `make peers` builds it):
    `$STORELENS_BOXMOT_PYTHON`, else `.venv-boxmot/bin/python` in the checkout or the cwd."""
    explicit = os.environ.get(BOXMOT_PYTHON_ENV)
    candidates = [Path(explicit).expanduser()] if explicit else []
    candidates += [base / ".venv-boxmot" / "bin" / "python" for base in (_REPO_ROOT, Path.cwd())]
    return next((c for c in candidates if c.is_file()), None)
