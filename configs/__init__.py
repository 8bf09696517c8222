"""storelens.configs: the YAML that ships with storelens (stores, training, serving).

Shipped as package data so an installed storelens finds its demo store without a checkout.
"""

from importlib.resources import files
from pathlib import Path


def builtin_store(name: str = "demo_store") -> Path:
    """Path of a store layout shipped in `configs/stores/`, e.g. `builtin_store("demo_store")`."""
    path = Path(str(files(__name__).joinpath("stores", f"{name}.yaml")))
    if not path.is_file():
        raise FileNotFoundError(f"no built-in store named {name!r} (looked for {path})")
    return path


def builtin_config(section: str, name: str) -> Path:
    """Path of a shipped config file, e.g. `builtin_config("tracking", "mot15.yaml")`."""
    path = Path(str(files(__name__).joinpath(section, name)))
    if not path.is_file():
        raise FileNotFoundError(f"no built-in config {section}/{name} (looked for {path})")
    return path
