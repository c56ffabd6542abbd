"""The notebook a reader downloads runs end to end in a fresh kernel, on the quick preset."""

import shutil

import nbformat
from conftest import DOCS
from nbclient import NotebookClient

NOTEBOOK = DOCS / "notebook.ipynb"


def test_the_notebook_runs_end_to_end(tmp_path, mnist_mirror, monkeypatch):
    # Run from a folder of its own, as a downloaded copy would be; the install cell finds the
    # package installed and does nothing.
    monkeypatch.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
    monkeypatch.setenv("FLAXGUIDE_DATA", str(tmp_path / "data"))
    shutil.copy(NOTEBOOK, tmp_path / "notebook.ipynb")
    notebook = nbformat.read(tmp_path / "notebook.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert not [out for out in outputs if out.get("name") == "stderr"], "no warnings, no bars"
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    plotting = [c for c in notebook.cells if c.cell_type == "code" and "plt.show()" in c.source]
    assert len(images) >= len(plotting) > 0  # every figure shows inline
