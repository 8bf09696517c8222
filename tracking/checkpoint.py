"""Checkpoint files: nested dicts of numpy arrays, lists, strings and numbers, in one `.npz`.

    save_checkpoint("runs/store/ckpt.npz", {"tracker": tracker.state_dict(), "pipeline": {...}})
    tracker.load_state_dict(load_checkpoint("runs/store/ckpt.npz")["tracker"])

Layout of the file (an uncompressed numpy `.npz`, i.e. a zip of `.npy` members):

- `arrays/<key>/<key>/...`: every numpy array (and numpy scalar), under its `/`-joined path in
  the nested dict (list positions are numbers in the path);
- `manifest`: UTF-8 JSON, `{"format": "storelens-checkpoint", "version": 1, "tree": ...}`,
  where `tree` mirrors the dict with each node tagged by its kind — `{"dict": {...}}`,
  `{"list": [...]}`, `{"array": member}`, `{"scalar": member}` (a numpy scalar) or
  `{"value": ...}` (a JSON string, number, bool or null) — so the structure, key order, dtypes
  and shapes come back exactly, and nothing is ever unpickled.

Writes are atomic (a temporary file in the same folder, then a rename): a crash leaves the
previous checkpoint, never half of a new one. The file is readable by its owner only (the
temporary file's mode, 0600). Keys must be strings without `/`; tuples, sets,
object arrays and other Python objects are refused (they would not come back as they went in).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "storelens-checkpoint"
VERSION = 1
MANIFEST = "manifest"
ARRAYS = "arrays"


class CheckpointError(ValueError):
    """A file that is not a readable storelens checkpoint."""


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write `state` (a nested dict) to `path` atomically; returns the path.

    Raises:
        TypeError: a value that cannot be stored exactly (named by its key path); nothing is
            written then.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    if not isinstance(state, Mapping):
        raise TypeError(f"save_checkpoint: expected a dict, got {type(state).__name__}")
    tree = _encode(state, (), arrays)
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}, allow_nan=True)
    members = {MANIFEST: np.frombuffer(manifest.encode("utf-8"), np.uint8), **arrays}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`: the same nested dict, dtypes included.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not a storelens checkpoint (or is damaged); the message
            names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a single .npy array
            raise CheckpointError(f"a bare {type(loaded).__name__}, not an .npz archive")
        with loaded as npz:
            if MANIFEST not in npz.files:
                raise CheckpointError(f"no {MANIFEST!r} entry (members: {npz.files[:5]})")
            head = json.loads(npz[MANIFEST].tobytes().decode("utf-8"))
            if not isinstance(head, dict) or head.get("format") != FORMAT:
                raise CheckpointError(f"its manifest is not a {FORMAT!r} manifest")
            if head.get("version") != VERSION:
                raise CheckpointError(
                    f"checkpoint version {head.get('version')!r}; this code reads {VERSION}"
                )
            state = _decode(head.get("tree"), npz)
    except CheckpointError as err:
        raise CheckpointError(f"checkpoint {path}: not a storelens checkpoint: {err}") from err
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeError) as err:
        raise CheckpointError(
            f"checkpoint {path}: not a storelens checkpoint, or damaged "
            f"({type(err).__name__}: {err})"
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: not a storelens checkpoint (root is not a dict)")
    return state


def _encode(value: Any, where: tuple[str, ...], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    name = "/".join(where) or "(root)"
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or "/" in k or not k:
                raise TypeError(
                    f"save_checkpoint: key {k!r} in {name}: keys must be non-empty strings "
                    "without '/'"
                )
            out[k] = _encode(v, (*where, k), arrays)
        return {"dict": out}
    if isinstance(value, list):
        return {"list": [_encode(v, (*where, str(i)), arrays) for i, v in enumerate(value)]}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.hasobject or arr.dtype.kind == "V":
            raise TypeError(f"save_checkpoint: {name}: arrays of dtype {arr.dtype} are not stored")
        member = "/".join((ARRAYS, *where))
        arrays[member] = arr
        return {"scalar" if isinstance(value, np.generic) else "array": member}
    if value is None or isinstance(value, (bool, int, float, str)):
        if type(value) not in (type(None), bool, int, float, str):
            raise TypeError(
                f"save_checkpoint: {name}: {type(value).__name__} would come back as its base type"
            )
        return {"value": value}
    raise TypeError(
        f"save_checkpoint: {name}: cannot store a {type(value).__name__} (use dicts, lists, "
        "numpy arrays, strings, numbers, bools or None)"
    )


def _decode(node: Any, npz: Any) -> Any:
    if not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(f"malformed manifest node {node!r:.80}")
    ((kind, body),) = node.items()
    if kind == "dict" and isinstance(body, dict):
        return {k: _decode(v, npz) for k, v in body.items()}
    if kind == "list" and isinstance(body, list):
        return [_decode(v, npz) for v in body]
    if kind in ("array", "scalar") and isinstance(body, str):
        if body not in npz.files:
            raise CheckpointError(f"array {body!r} is missing")
        arr = npz[body]
        return arr[()] if kind == "scalar" else arr
    if kind == "value" and (body is None or isinstance(body, (bool, int, float, str))):
        return body
    raise CheckpointError(f"malformed manifest node {node!r:.80}")
