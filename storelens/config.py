"""Loading YAML into pydantic models, with errors a person can act on.

Every config file (stores, scenarios, training, serving) goes through `load_model`: a bad
file fails with `ConfigError` naming the file, the field path (`cameras[2].resolution`) and
the offending value, never with a traceback from deep inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A config file or value is invalid; the message says where and why."""


def field_path(loc: Sequence[int | str]) -> str:
    """pydantic's error location → `cameras[2].pose.position`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: {err.error_count()} invalid field(s)"]
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if not e["loc"]:  # a whole-model check already names its fields in the message
            lines.append(f"  {msg}")
            continue
        value = e.get("input")
        # a missing dict key carries the whole parent mapping: too long to be useful
        got = (
            "" if e["type"] == "missing" and isinstance(value, dict) else f" (got {_short(value)})"
        )
        lines.append(f"  {field_path(e['loc'])}: {msg}{got}")
    return "\n".join(lines)


def validate_data(data: Any, model: type[ModelT], source: str = "config") -> ModelT:
    """Validate already-parsed data; raise `ConfigError` with a readable message."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; syntax errors name the file, line and column."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such file")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{p}:{where}: not valid YAML: {problem}") from None


def load_model(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read a YAML file into `model`, e.g. `load_model("store.yaml", StoreLayout)`."""
    data = read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    return validate_data(data, model, source=str(path))
