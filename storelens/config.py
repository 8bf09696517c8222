"""Loading YAML into pydantic models, with errors a person can act on.

Every config file (stores, scenarios, training, tuning, tracking, serving) goes through
`load_config(path, Model)`:

- a file may name another as `base` (a path relative to itself, or absolute); the base is read
  first and the file's keys replace its keys, sections (mappings) merged key by key, anything
  else (lists included) replaced whole — detectron2's `_BASE_` idea. A base may have a base;
  a chain that comes back to a file already in it is refused;
- the resolved mapping is validated, and a bad file fails with `ConfigError` naming the file,
  the field path (`cameras[2].resolution`) and the offending value, never with a traceback from
  deep inside.

A loaded config is changed only through `override(config, {"crowd": {"parties": 8}})`, which
merges the changes the same way and validates again (`model_copy(update=...)` does not
validate: it would let `parties=-1` or a misspelt key through).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

BASE_KEY = "base"


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


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` over `base`: mappings merged key by key (recursively), anything else replaced."""
    out = dict(base)
    for key, value in changes.items():
        current = out.get(key)
        out[key] = (
            merge(current, value)
            if isinstance(value, Mapping) and isinstance(current, Mapping)
            else value
        )
    return out


def _resolve(p: Path, data: Any, seen: tuple[Path, ...]) -> dict[str, Any]:
    """`data` (the parsed contents of `p`, an absolute path) over its `base` chain."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of settings, got {type(data).__name__}")
    data = dict(data)
    base = data.pop(BASE_KEY, None)
    if base is None:
        return data
    if not isinstance(base, str | Path) or not str(base):
        raise ConfigError(f"{p}: {BASE_KEY}: expected a file path (got {_short(base)})")
    base_path = (p.parent / Path(base).expanduser()).resolve()
    if base_path in (*seen, p):
        chain = " → ".join(str(f) for f in (*seen, p, base_path))
        raise ConfigError(f"{p}: `{BASE_KEY}` chain loops back to itself: {chain}")
    if not base_path.is_file():
        raise ConfigError(f"{p}: {BASE_KEY}: {base!r} does not exist (looked for {base_path})")
    return merge(_resolve(base_path, read_yaml(base_path), (*seen, p)), data)


def resolve_yaml(path: str | Path) -> dict[str, Any]:
    """The file's keys over its `base` chain, as one dict (an empty file is `{}`)."""
    p = Path(path).expanduser().resolve()
    return _resolve(p, read_yaml(p), ())


def load_config(path: str | Path, model: type[ModelT], *, allow_empty: bool = False) -> ModelT:
    """Read a YAML file (and its `base` chain) into `model`, e.g.
    `load_config("configs/stores/demo_store.yaml", StoreLayout)`.

    An empty file is refused ("the file is empty") unless `allow_empty`, when it means the
    model's defaults (an override file that changes nothing). A file whose top level is not a
    mapping is handed to the model as it is, so its error names the file and what was expected.
    """
    p = Path(path).expanduser()
    data = read_yaml(p)
    if data is None and not allow_empty:
        raise ConfigError(f"{path}: the file is empty")
    if data is None or isinstance(data, dict):
        data = _resolve(p.resolve(), data, ())
    return validate_data(data, model, source=str(path))


def _unknown_keys(
    model: BaseModel, changes: Mapping[str, Any], prefix: str = ""
) -> list[tuple[str, type[BaseModel]]]:
    """(path, model) for each key in `changes` that names no field of `model` or its sections."""
    fields = type(model).model_fields
    out: list[tuple[str, type[BaseModel]]] = []
    for key, value in changes.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            out.append((where, type(model)))
            continue
        current = getattr(model, key)
        if isinstance(value, Mapping) and isinstance(current, BaseModel):
            out += _unknown_keys(current, value, where)
    return out


def override(config: ModelT, changes: Mapping[str, Any] | None = None, /, **fields: Any) -> ModelT:
    """A validated copy of `config` with `changes` (and keyword `fields`) merged over it.

    Nested mappings merge key by key, like a `base` file and the file over it:
    `override(scenario, {"crowd": {"parties": 8}}, duration_s=10)` keeps every other `crowd`
    field. The result is validated again: a bad value raises `ConfigError` naming the field path
    and the value (`crowd.parties: ... (got -1)`), and a key that names no field is refused.
    """
    merged_changes = merge(changes or {}, fields)
    name = type(config).__name__
    unknown = _unknown_keys(config, merged_changes)
    if unknown:
        lines = [f"{name} override: {len(unknown)} unknown field(s)"]
        lines += [
            f"  {where}: not a field of {owner.__name__} (fields: {', '.join(owner.model_fields)})"
            for where, owner in unknown
        ]
        raise ConfigError("\n".join(lines))
    data = merge(config.model_dump(), merged_changes)
    return validate_data(data, type(config), source=f"{name} override")
