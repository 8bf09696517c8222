"""Every notebook runs top to bottom on small settings, in a fresh kernel."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
# what each notebook must have shown, beyond running without an error
EXPECTED = {
    "01_train_detector.ipynb": "mAP50",
    "02_tracking.ipynb": "HOTA",
    "03_bodies_and_hands.ipynb": "comes closest to the shelf face",
    "05_attribution.ipynb": "receipt accuracy",
}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch, repo_root):
    monkeypatch.setenv("STORELENS_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("STORELENS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("STORELENS_ULTRALYTICS_DIR", str(tmp_path / "ultralytics"))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(repo_root)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(EXPECTED[path.name] in str(o) for o in outputs)
    assert any((tmp_path / "runs").iterdir())
