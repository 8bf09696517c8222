"""The house as drawn (docs/architecture.md, "Import rules"): which part may import which.

Every module's imports are read with `ast`, never by importing the module, and each arrow the
table below forbids fails the test as `file:line imports X (rule: ...)`. Relative imports are
resolved, `from storelens import datasets` counts as importing `storelens.datasets`, and
`importlib.import_module("...")` / `__import__("...")` with a literal name count too.

"Module level" means code that runs on `import`: not inside a function, and not under
`if TYPE_CHECKING:`. That is where the core must not pull in torch or Ray, and where the CLI must
not pull in subpackages (so `import storelens` and `storelens --help` stay fast). Layer arrows
count everywhere, inside functions too.

To add a subpackage, add one row to LAYERS (a folder that does not exist yet is simply skipped).
"""

from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Third-party libraries too heavy for `import storelens` / `storelens --help`.
HEAVY = ("torch", "torchvision", "ray", "fastapi", "mlflow", "ultralytics")

# Layers that only the command layer (and they themselves) may import: nothing online imports
# offline evaluation, and nothing imports the serving application.
ONLY_THE_CLI_IMPORTS = ("serving", "evaluation")


@dataclass(frozen=True)
class Layer:
    folder: str  # relative to the repository root
    may_import: frozenset[str]  # other layers, anywhere in a module (itself is always allowed)
    never_at_module_level: tuple[str, ...] = ()  # third-party top-level names
    never: tuple[str, ...] = ()  # third-party top-level names, anywhere in a module
    layers_only_in_functions: bool = False  # other layers than core/cli only inside functions

    @property
    def package(self) -> str:
        if self.folder == "storelens":
            return "storelens"
        return "storelens." + self.folder.removeprefix("storelens/").replace("/", ".")


def L(folder: str, may_import: str, **kw) -> Layer:
    """One row of the table: `may_import` is a space-separated list of layers, or `*`."""
    names = ALL_LAYERS if may_import == "*" else may_import.split()
    return Layer(folder, frozenset(names), **kw)


ALL_LAYERS = (
    "core cli configs models datasets training inference tracking attribution storage "
    "evaluation serving"
).split()

# The rules table. `may import` lists the other layers a layer may import (anywhere).
# fmt: off
LAYERS: dict[str, Layer] = {
    # layer          folder          may import
    "core":        L("storelens",     "configs",
                     never_at_module_level=HEAVY),
    "cli":         L("storelens/cli", "*",
                     never_at_module_level=HEAVY, layers_only_in_functions=True),
    "configs":     L("configs",       ""),
    "models":      L("models",        "core configs"),
    "datasets":    L("datasets",      "core configs"),
    "training":    L("training",      "core configs models datasets inference"),
    "inference":   L("inference",     "core configs models"),
    "tracking":    L("tracking",      "core configs",
                     never=("ray", "fastapi")),
    "attribution": L("attribution",   "core"),
    "storage":     L("storage",       "core"),
    "evaluation":  L("evaluation",    "core configs models datasets training inference tracking "
                                      "attribution storage"),
    "serving":     L("serving",       "core configs models tracking inference attribution "
                                      "storage"),
}
# fmt: on

NOTEBOOKS = "notebooks"
NOTEBOOKS_NEVER_IMPORT = ("cli",)  # layers a notebook must not import


@dataclass(frozen=True, order=True)
class Violation:
    path: str  # relative to the checked root; notebooks as `nb.ipynb#cell3`
    line: int
    imported: str  # the dotted name as imported ("" when the file does not parse)
    rule: str

    def __str__(self) -> str:
        if not self.imported:
            return f"{self.path}:{self.line} does not parse (rule: {self.rule})"
        return f"{self.path}:{self.line} imports {self.imported} (rule: {self.rule})"


@dataclass(frozen=True)
class Import:
    line: int
    name: str  # absolute dotted name
    module_level: bool


# --------------------------------------------------------------------------------------------
# Reading imports


def layer_of_name(name: str) -> str | None:
    """The storelens layer a dotted import name belongs to (None: not storelens)."""
    best, best_len = None, -1
    for layer_name, layer in LAYERS.items():
        pkg = layer.package
        if (name == pkg or name.startswith(pkg + ".")) and len(pkg) > best_len:
            best, best_len = layer_name, len(pkg)
    return best


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str | None:
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(parts) - 1:
        return None  # beyond the top-level package: Python itself refuses it
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def iter_imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[Import]:
    """Every import in `tree`, with absolute names and whether it runs at import time."""

    def visit(node: ast.AST, module_level: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name, module_level)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module
            if base is None or base == "__future__":
                return
            seen = set()
            for alias in node.names:
                # `from storelens import datasets` imports the subpackage storelens.datasets
                full = f"{base}.{alias.name}"
                name = (
                    full
                    if alias.name != "*" and layer_of_name(full) != layer_of_name(base)
                    else base
                )
                if name not in seen:
                    seen.add(name)
                    yield Import(node.lineno, name, module_level)
        elif isinstance(node, ast.Call):
            func = node.func
            dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
                isinstance(func, ast.Attribute)
                and func.attr == "import_module"
                and isinstance(func.value, ast.Name)
                and func.value.id == "importlib"
            )
            if dynamic and node.args and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str) and not node.args[0].value.startswith("."):
                    yield Import(node.lineno, node.args[0].value, module_level)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            module_level = False
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, False)
            for child in node.orelse:
                yield from visit(child, module_level)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, module_level)

    yield from visit(tree, True)


# --------------------------------------------------------------------------------------------
# The checker


def check_imports(layer_name: str, imports: Iterable[Import], path: str) -> list[Violation]:
    """The violations among `imports` of one module of layer `layer_name`."""
    layer = LAYERS[layer_name]
    found = []
    for imp in imports:
        top = imp.name.split(".")[0]
        target = layer_of_name(imp.name)
        rule = None
        if target is None:
            if top in layer.never:
                rule = f"{layer_name} never imports {top}"
            elif top in layer.never_at_module_level and imp.module_level:
                rule = f"{layer_name} imports {top} only inside functions"
        elif target != layer_name and target not in layer.may_import:
            if target in ONLY_THE_CLI_IMPORTS:
                rule = f"nothing but storelens/cli imports {target}"
            else:
                allowed = ", ".join(n for n in ALL_LAYERS if n in layer.may_import) or "nothing"
                rule = f"{layer_name} may import only {allowed}"
        elif (
            layer.layers_only_in_functions
            and imp.module_level
            and target not in ("core", layer_name)
        ):
            rule = f"{layer_name} imports subpackages only inside functions"
        if rule:
            found.append(Violation(path, imp.line, imp.name, rule))
    return found


def check_source(layer_name: str, module: str, source: str, path: str) -> list[Violation]:
    """Check one module's source; `module` is its dotted name (for relative imports)."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return [Violation(path, exc.lineno or 0, "", f"must parse: {exc.msg}")]
    is_package = path.endswith("__init__.py")
    return check_imports(layer_name, iter_imports(tree, module, is_package), path)


def _notebook_cells(nb_path: Path) -> Iterator[tuple[int, str]]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        # IPython magics and shell escapes are not Python: blank them, keeping line numbers
        lines = [
            "" if line.lstrip().startswith(("!", "%")) else line for line in source.splitlines()
        ]
        yield index, "\n".join(lines)


def check_notebook(nb_path: Path, rel: str) -> list[Violation]:
    found = []
    for index, source in _notebook_cells(nb_path):
        where = f"{rel}#cell{index}"
        try:
            tree = ast.parse(source, filename=where)
        except SyntaxError as exc:
            found.append(Violation(where, exc.lineno or 0, "", f"must parse: {exc.msg}"))
            continue
        for imp in iter_imports(tree, "__main__", False):
            if layer_of_name(imp.name) in NOTEBOOKS_NEVER_IMPORT:
                rule = "notebooks never import storelens.cli"
                found.append(Violation(where, imp.line, imp.name, rule))
    return found


def modules_of(root: Path) -> Iterator[tuple[str, str, Path]]:
    """(layer, dotted module name, path) of every Python file under a layer folder of `root`."""
    folders = sorted(LAYERS.items(), key=lambda item: -len(item[1].folder))
    for layer_name, layer in LAYERS.items():
        base = root / layer.folder
        if not base.is_dir():
            continue  # a layer that does not exist (yet)
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if "__pycache__" in rel.split("/"):
                continue
            # a file belongs to the deepest layer folder that holds it (storelens/cli/ is cli)
            owner = next(n for n, lay in folders if rel.startswith(lay.folder + "/"))
            if owner != layer_name:
                continue
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield layer_name, ".".join((layer.package, *parts)), path


def check_tree(root: Path) -> tuple[list[Violation], int]:
    """Every violation under `root` (a repository checkout) and how many files were read."""
    found: list[Violation] = []
    count = 0
    for layer_name, module, path in modules_of(root):
        try:
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue  # moved away while we looked
        count += 1
        found += check_source(layer_name, module, source, path.relative_to(root).as_posix())
    nb_dir = root / NOTEBOOKS
    if nb_dir.is_dir():
        for nb_path in sorted(nb_dir.glob("*.ipynb")):
            count += 1
            found += check_notebook(nb_path, nb_path.relative_to(root).as_posix())
    return sorted(found), count


# --------------------------------------------------------------------------------------------
# The real tree


def test_the_real_tree_keeps_the_import_rules():
    violations, count = check_tree(REPO_ROOT)
    assert count > 20, f"only {count} files were read: is the checker looking in the right place?"
    assert not violations, f"{len(violations)} forbidden import(s):\n" + "\n".join(
        map(str, violations)
    )


def test_every_mapped_subpackage_has_a_row_in_the_rules_table():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_dir = pyproject["tool"]["setuptools"]["package-dir"]
    by_package = {layer.package: layer.folder for layer in LAYERS.values()}
    for package, folder in package_dir.items():
        assert package in by_package, f"{package} (folder {folder}/) has no row in LAYERS"
        assert by_package[package] == folder, f"{package} lives in {folder}/, LAYERS says otherwise"


def test_the_rules_table_is_consistent():
    for name, layer in LAYERS.items():
        unknown = layer.may_import - set(ALL_LAYERS)
        assert not unknown, f"{name} names unknown layers {sorted(unknown)}"
        for offline in ONLY_THE_CLI_IMPORTS:
            if name not in (offline, "cli"):
                assert offline not in layer.may_import, f"{name} may not import {offline}"
        assert "cli" not in layer.may_import or name == "cli", f"only cli imports cli ({name})"
    # without the CLI, the arrows form no cycle
    graph = {n: lay.may_import - {"cli"} for n, lay in LAYERS.items() if n != "cli"}
    state: dict[str, int] = {}

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert state.get(node) != 1, "import cycle in the table: " + " → ".join((*trail, node))
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, (*trail, node))
        state[node] = 2

    for node in graph:
        visit(node, ())


# --------------------------------------------------------------------------------------------
# The checker fails on each forbidden arrow (synthetic trees)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, source in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return tmp_path


def _notebook(*cells: str) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": "markdown", "source": ["# a notebook\n"], "metadata": {}},
                *(
                    {
                        "cell_type": "code",
                        "source": c.splitlines(keepends=True),
                        "metadata": {},
                        "outputs": [],
                        "execution_count": None,
                    }
                    for c in cells
                ),
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


IN_FUNCTION = "def f():\n    {}\n"

FORBIDDEN = {
    # id: (file, source, (line, imported, rule)); notebook cells count from 0 (cell 0 is markdown)
    "tracking->datasets": (
        "tracking/pipeline.py",
        "import numpy as np\nfrom storelens.datasets.recording import SimRecording\n",
        (2, "storelens.datasets.recording", "tracking may import only core, configs"),
    ),
    "tracking->datasets (import inside a function still counts)": (
        "tracking/pipeline.py",
        IN_FUNCTION.format("import storelens.datasets.sim"),
        (2, "storelens.datasets.sim", "tracking may import only core, configs"),
    ),
    "tracking->datasets (from storelens import datasets)": (
        "tracking/pipeline.py",
        "from storelens import datasets\n",
        (1, "storelens.datasets", "tracking may import only core, configs"),
    ),
    "tracking->datasets (relative)": (
        "tracking/pipeline.py",
        "from ..datasets import recording\n",
        (1, "storelens.datasets", "tracking may import only core, configs"),
    ),
    "tracking->datasets (relative, from a sub-package __init__)": (
        "tracking/cuda/__init__.py",
        "from ...datasets.sim import scenario\n",
        (1, "storelens.datasets.sim", "tracking may import only core, configs"),
    ),
    "tracking->evaluation": (
        "tracking/pipeline.py",
        "from storelens.evaluation.tracking_metrics import evaluate_mot\n",
        (
            1,
            "storelens.evaluation.tracking_metrics",
            "nothing but storelens/cli imports evaluation",
        ),
    ),
    "tracking->inference": (
        "tracking/pipeline.py",
        "from storelens.inference import person_embedder\n",
        (1, "storelens.inference", "tracking may import only core, configs"),
    ),
    "tracking->ray (inside a function)": (
        "tracking/pipeline.py",
        IN_FUNCTION.format("import ray"),
        (2, "ray", "tracking never imports ray"),
    ),
    "tracking->fastapi": (
        "tracking/pipeline.py",
        "from fastapi import FastAPI\n",
        (1, "fastapi", "tracking never imports fastapi"),
    ),
    "training->serving": (
        "training/detector.py",
        "import storelens.serving.app\n",
        (1, "storelens.serving.app", "nothing but storelens/cli imports serving"),
    ),
    "tracking->serving": (
        "tracking/pipeline.py",
        IN_FUNCTION.format("from storelens.serving import api"),
        (2, "storelens.serving", "nothing but storelens/cli imports serving"),
    ),
    "core->serving": (
        "storelens/records.py",
        "from storelens import serving\n",
        (1, "storelens.serving", "nothing but storelens/cli imports serving"),
    ),
    "evaluation->serving": (
        "evaluation/runner.py",
        "from storelens.serving.worker import StoreWorker\n",
        (1, "storelens.serving.worker", "nothing but storelens/cli imports serving"),
    ),
    "training->evaluation": (
        "training/detector.py",
        "from storelens.evaluation import detector_metrics\n",
        (1, "storelens.evaluation", "nothing but storelens/cli imports evaluation"),
    ),
    "training->tracking": (
        "training/detector.py",
        "from storelens.tracking.tracker import StoreTracker\n",
        (
            1,
            "storelens.tracking.tracker",
            "training may import only core, configs, models, datasets, inference",
        ),
    ),
    "serving->training": (
        "serving/app.py",
        "from storelens.training.registry import load_detector\n",
        (
            1,
            "storelens.training.registry",
            "serving may import only core, configs, models, inference, tracking, attribution, "
            "storage",
        ),
    ),
    "serving->datasets": (
        "serving/app.py",
        "from storelens.datasets.simulate import simulate\n",
        (
            1,
            "storelens.datasets.simulate",
            "serving may import only core, configs, models, inference, tracking, attribution, "
            "storage",
        ),
    ),
    "inference->training": (
        "inference/detector.py",
        "from storelens.training.config import TrainDetectorConfig\n",
        (1, "storelens.training.config", "inference may import only core, configs, models"),
    ),
    "inference->datasets (relative)": (
        "inference/gallery.py",
        "from ..datasets.grocery import ProductImages\n",
        (1, "storelens.datasets.grocery", "inference may import only core, configs, models"),
    ),
    "datasets->training": (
        "datasets/simulate.py",
        "from storelens.training import data\n",
        (1, "storelens.training", "datasets may import only core, configs"),
    ),
    "attribution->storage": (
        "attribution/baskets.py",
        "from storelens.storage.queries import save_basket\n",
        (1, "storelens.storage.queries", "attribution may import only core"),
    ),
    "storage->tracking": (
        "storage/ingest.py",
        "import storelens.tracking\n",
        (1, "storelens.tracking", "storage may import only core"),
    ),
    "core->datasets": (
        "storelens/layout.py",
        IN_FUNCTION.format("from storelens.datasets.sim import scenario"),
        (2, "storelens.datasets.sim", "core may import only configs"),
    ),
    "core->models": (
        "storelens/pretrained.py",
        "from storelens.models import demo_detector\n",
        (1, "storelens.models", "core may import only configs"),
    ),
    "core->cli": (
        "storelens/records.py",
        "from .cli import main\n",
        (1, "storelens.cli", "core may import only configs"),
    ),
    "core->torch at module level": (
        "storelens/detections.py",
        "import numpy as np\nimport torch\n",
        (2, "torch", "core imports torch only inside functions"),
    ),
    "core->torch.nn at module level": (
        "storelens/detections.py",
        "import torch.nn.functional as F\n",
        (1, "torch.nn.functional", "core imports torch only inside functions"),
    ),
    "core->mlflow at module level": (
        "storelens/mlflow_store.py",
        "from mlflow.tracking import MlflowClient\n",
        (1, "mlflow.tracking", "core imports mlflow only inside functions"),
    ),
    "core->ray at module level (in a try block)": (
        "storelens/settings.py",
        "try:\n    import ray\nexcept ImportError:\n    ray = None\n",
        (2, "ray", "core imports ray only inside functions"),
    ),
    "core->fastapi at module level (in a class body)": (
        "storelens/records.py",
        "class A:\n    from fastapi import FastAPI\n",
        (2, "fastapi", "core imports fastapi only inside functions"),
    ),
    "core->ultralytics at module level (dynamic)": (
        "storelens/pretrained.py",
        "import importlib\nYOLO = importlib.import_module('ultralytics').YOLO\n",
        (2, "ultralytics", "core imports ultralytics only inside functions"),
    ),
    "core __init__ -> tracking (relative)": (
        "storelens/__init__.py",
        "from . import tracking\n",
        (1, "storelens.tracking", "core may import only configs"),
    ),
    "cli->subpackage at module level": (
        "storelens/cli/tracking.py",
        "import typer\nfrom storelens.tracking.tracker import StoreTracker\n",
        (2, "storelens.tracking.tracker", "cli imports subpackages only inside functions"),
    ),
    "cli->configs at module level": (
        "storelens/cli/store.py",
        "from storelens.configs import builtin_store\n",
        (1, "storelens.configs", "cli imports subpackages only inside functions"),
    ),
    "cli->serving at module level (relative)": (
        "storelens/cli/serve.py",
        "from ..serving import app\n",
        (1, "storelens.serving", "cli imports subpackages only inside functions"),
    ),
    "cli->torch at module level": (
        "storelens/cli/training.py",
        "import torch\n",
        (1, "torch", "cli imports torch only inside functions"),
    ),
    "cli->mlflow at module level": (
        "storelens/cli/training.py",
        "from mlflow.exceptions import MlflowException\n",
        (1, "mlflow.exceptions", "cli imports mlflow only inside functions"),
    ),
    "notebook->cli": (
        "notebooks/01_walkthrough.ipynb#cell2",
        _notebook("import os\n", "%matplotlib inline\n!ls runs\nfrom storelens.cli import main\n"),
        (3, "storelens.cli", "notebooks never import storelens.cli"),
    ),
    "notebook->cli (from storelens import cli)": (
        "notebooks/01_walkthrough.ipynb#cell1",
        _notebook("from storelens import cli, layout\n"),
        (1, "storelens.cli", "notebooks never import storelens.cli"),
    ),
}


@pytest.mark.parametrize("case", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_the_checker_reports_each_forbidden_arrow(tmp_path, case):
    rel, source, (line, imported, rule) = case  # a notebook's rel names the cell: nb.ipynb#cell2
    violations, _ = check_tree(_tree(tmp_path, {rel.split("#")[0]: source}))
    assert [str(v) for v in violations] == [str(Violation(rel, line, imported, rule))]


ALLOWED = {
    "core->core, configs, numpy, pydantic": (
        "storelens/layout.py",
        "import numpy as np\nfrom pydantic import BaseModel\nfrom storelens.config import load\n"
        "from storelens.configs import builtin_store\nfrom . import geometry\n"
        "from storelens import __version__, Detections\nimport storelens.boxes\n",
    ),
    "core->torch, mlflow, ray, fastapi, ultralytics inside a function": (
        "storelens/detections.py",
        "def to_torch(x):\n    import torch\n    import mlflow\n    import ray\n"
        "    from fastapi import FastAPI\n    from ultralytics import YOLO\n    return torch\n",
    ),
    "core->torch inside a method": (
        "storelens/detections.py",
        "class D:\n    def t(self):\n        import torch.nn\n",
    ),
    "core->torch under TYPE_CHECKING": (
        "storelens/detections.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
    ),
    "datasets->core, configs, itself (also relative)": (
        "datasets/sim/views.py",
        "from storelens.layout import StoreLayout\nfrom storelens.configs import builtin_store\n"
        "from storelens.datasets.sim.stock import IN_HAND\nfrom .render import CameraRenderer\n"
        "from ..formats import mot\nimport torch\n",
    ),
    "training->core, configs, models, datasets, inference, mlflow": (
        "training/detector.py",
        "import mlflow\nfrom storelens.datasets.simulate import simulate\n"
        "from storelens.inference.detector import load_detector\n"
        "from storelens.models import demo_detector\nfrom storelens.configs import builtin_store\n",
    ),
    "inference->core, configs, models, torch": (
        "inference/detector.py",
        "import torch\nfrom storelens.models import demo_detector\n"
        "from storelens import Detections\n",
    ),
    "tracking->core, configs, itself": (
        "tracking/tracker.py",
        "from storelens.detections import Detections\n"
        "from storelens.configs import builtin_config\n"
        "from storelens.tracking.kalman import BoxKalman\nfrom . import association\n",
    ),
    "evaluation->everything but serving": (
        "evaluation/runner.py",
        "from storelens.tracking import tracker\nfrom storelens.datasets import simulate\n"
        "from storelens.training import registry\nfrom storelens.inference import detector\n"
        "from storelens.attribution import baskets\nfrom storelens.storage import queries\n"
        "import ray\n",
    ),
    "serving->tracking, inference, attribution, storage, ray, fastapi": (
        "serving/app.py",
        "import ray\nfrom ray import serve\nfrom fastapi import FastAPI\n"
        "from storelens.tracking.tracker import StoreTracker\n"
        "from storelens.inference import detector\n"
        "from storelens.attribution import baskets\nfrom storelens.storage import queries\n",
    ),
    "cli->core and itself at module level, anything inside functions": (
        "storelens/cli/__init__.py",
        "import typer\nfrom storelens._version import __version__\nfrom . import demo, tracking\n"
        "from storelens.cli._errors import user_errors\n"
        "def run():\n    import torch\n    from storelens.serving import app\n"
        "    from storelens.evaluation.report import metrics_table\n"
        "    from storelens.training import registry\n",
    ),
    "notebook->core, subpackages, with magics": (
        "notebooks/02_tracking.ipynb",
        _notebook(
            "%load_ext autoreload\n!pip list | head\nimport torch\n",
            "from storelens.tracking import tracker\nfrom storelens.evaluation import report\n",
        ),
    ),
    "a module outside any layer folder is not checked": (
        "scripts/tool.py",
        "from storelens.serving import app\n",
    ),
    "a top-level `datasets` (not storelens's) is third-party": (
        "tracking/hf.py",
        "import datasets\nfrom datasets import load_dataset\n",
    ),
}


@pytest.mark.parametrize("case", ALLOWED.values(), ids=ALLOWED.keys())
def test_the_checker_allows_the_drawn_arrows(tmp_path, case):
    rel, source = case
    violations, _ = check_tree(_tree(tmp_path, {rel: source}))
    assert violations == []


def test_the_checker_reports_each_line_of_a_bad_module_and_skips_missing_layers(tmp_path):
    root = _tree(
        tmp_path,
        {
            "tracking/__init__.py": "",
            "tracking/events.py": "import numpy as np\n"
            "from storelens.datasets.sim import views\n"
            "from storelens.evaluation import report\n"
            "from storelens.tracking.kalman import BoxKalman\n",
        },
    )
    violations, count = check_tree(root)
    assert count == 2
    assert [str(v) for v in violations] == [
        "tracking/events.py:2 imports storelens.datasets.sim "
        "(rule: tracking may import only core, configs)",
        "tracking/events.py:3 imports storelens.evaluation "
        "(rule: nothing but storelens/cli imports evaluation)",
    ]


def test_a_module_that_does_not_parse_is_reported(tmp_path):
    violations, _ = check_tree(_tree(tmp_path, {"serving/app.py": "def broken(:\n"}))
    assert len(violations) == 1 and violations[0].path == "serving/app.py"
    assert "does not parse" in str(violations[0])
