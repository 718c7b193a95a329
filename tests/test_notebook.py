"""examples/quickstart.ipynb runs end to end on the embedded model, and its HTML shows units and interactions."""

import os
import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
UNITS = ["Her", "acting", "never", "fails", "to", "impress"]


@pytest.mark.llm
@pytest.mark.slow
def test_quickstart_notebook_runs(embedded_model_dir, tmp_path):
    try:
        import nbclient
        import nbformat
    except ImportError as err:
        if os.environ.get("CI"):  # the dev extra installs them under CI
            raise
        pytest.skip(f"the notebook test needs nbclient and nbformat (dev extra): {err}")
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    pages = [out.data["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    explanation, values = pages[0], pages[1]
    for unit in UNITS:
        assert f">{unit}</span>" in explanation  # the text heat map
        assert unit in values
    assert "Top interactions" in explanation and "never × fails" in explanation  # the interaction list
    assert "faithfulness" in explanation and "inferences" in explanation and "LocalLM" in explanation
    assert "sii" in values and "never × fails" in values
    assert sum("image/png" in out.get("data", {}) for out in outputs) == 2  # the text and waterfall figures
    assert (tmp_path / "quickstart.json").is_file() and (tmp_path / "quickstart-sii.json").is_file()
