"""Every notebook runs top to bottom on small settings, in a fresh kernel."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch, repo_root):
    monkeypatch.setenv("STORELENS_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("STORELENS_RUNS_DIR", str(tmp_path / "runs"))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(repo_root)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("HOTA" in str(o) for o in outputs)
    assert (tmp_path / "runs" / "notebooks").is_dir()
