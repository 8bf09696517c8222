"""Shared fixtures: repository paths, the demo store, and the optional ../shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

from storelens.layout import StoreLayout
from storelens.settings import shared_data_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_STORE = REPO_ROOT / "configs" / "stores" / "demo_store.yaml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def demo_store_path() -> Path:
    return DEMO_STORE


@pytest.fixture(scope="session")
def demo_layout() -> StoreLayout:
    return StoreLayout.from_yaml(DEMO_STORE)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "../shared/data is absent (it exists on the project's machines and in CI; "
            "set STORELENS_SHARED_DATA to point at a copy)"
        )
    return path
