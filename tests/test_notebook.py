"""The notebook a reader downloads runs end to end in a fresh kernel, on the quick preset."""

import nbformat


def test_the_notebook_runs_end_to_end(executed_notebook):
    # `executed_notebook` (conftest.py) ran it from a folder of its own, as a downloaded copy.
    notebook = nbformat.read(executed_notebook, as_version=4)
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert outputs
    assert not [out for out in outputs if out.output_type == "error"]
    assert not [out for out in outputs if out.get("name") == "stderr"], "no warnings, no bars"
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    plotting = [c for c in notebook.cells if c.cell_type == "code" and "plt.show()" in c.source]
    assert len(images) >= len(plotting) > 0  # every figure shows inline
