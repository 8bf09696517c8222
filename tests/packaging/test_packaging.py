"""storelens works three ways: editable in the dev venv, as a wheel in a fresh venv, and
from the repo root (where the source folder `storelens/` shadows the installed package)."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

SUBPACKAGES = ("training", "tracking", "serving", "datasets")
IMPORT_ALL = "import storelens.training, storelens.tracking, storelens.serving, storelens.datasets"


def test_editable_install_maps_top_level_folders_to_subpackages(repo_root):
    import storelens

    assert Path(storelens.__file__).resolve().parent == repo_root / "storelens"
    for name in SUBPACKAGES:
        module = __import__(f"storelens.{name}", fromlist=["_"])
        assert Path(module.__file__).resolve().parent == repo_root / name


def test_no_top_level_datasets_or_serving_package_is_installed():
    for name in ("datasets", "serving", "training", "tracking"):
        probe = f"import importlib.util as u; print(u.find_spec({name!r}) is None)"
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, cwd="/", check=True
        )
        assert out.stdout.strip() == "True", f"a top-level package {name!r} is importable"


def test_imports_from_the_repo_root(repo_root):
    """`python -c` in the repo root puts the source folder first on sys.path."""
    probe = f"{IMPORT_ALL}; import storelens; print(storelens.tracking.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo_root, check=True
    )
    assert out.stdout.strip() == str(repo_root / "tracking" / "__init__.py")


def test_builtin_demo_store_is_package_data():
    from storelens.configs import builtin_store

    assert builtin_store("demo_store").is_file()
    with pytest.raises(FileNotFoundError, match="no built-in store named 'nope'"):
        builtin_store("nope")


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_imports_outside_the_repo(repo_root, tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(repo_root),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wheel = next(dist.glob("storelens-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "storelens/configs/stores/demo_store.yaml" in names
    for asset in ("product_atlas.png", "product_atlas.json", "GROCERY_STORE_LICENSE"):
        assert f"storelens/datasets/sim/assets/{asset}" in names
    assert "storelens/storage/migrations/env.py" in names
    assert any(n.startswith("storelens/storage/migrations/versions/0001") for n in names)
    folders = {
        "storelens": "storelens",
        "training": "storelens/training",
        "tracking": "storelens/tracking",
        "serving": "storelens/serving",
        "datasets": "storelens/datasets",
        "configs": "storelens/configs",
    }
    for folder, installed in folders.items():
        for init in (repo_root / folder).rglob("__init__.py"):
            inside = init.relative_to(repo_root / folder).as_posix()
            assert f"{installed}/{inside}" in names, f"{folder}/{inside} is missing from the wheel"
    assert not any(n.split("/")[0] in SUBPACKAGES for n in names), "top-level package in wheel"

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The heavy third-party dependencies come from the dev venv (a plain path entry: its .pth
    # files, including the editable finder for storelens, are not processed); storelens itself
    # comes only from the wheel.
    (Path(site) / "devdeps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = (
        f"{IMPORT_ALL}; import storelens; from storelens.configs import builtin_store; "
        "from storelens.layout import StoreLayout; "
        "print(storelens.__file__); print(StoreLayout.from_yaml(builtin_store()).store_id)"
    )
    out = subprocess.run([py, "-c", probe], capture_output=True, text=True, cwd=outside, check=True)
    file_line, store_line = out.stdout.strip().splitlines()
    assert file_line.startswith(str(venv)) and store_line == "demo-store"
    script = subprocess.run(
        [venv / "bin" / "storelens", "--version"],
        capture_output=True,
        text=True,
        cwd=outside,
        check=True,
    )
    assert script.stdout.startswith("storelens ")
