import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path, monkeypatch):
    """No test touches the user's cache."""
    monkeypatch.setenv("PROXYSPEX_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"
