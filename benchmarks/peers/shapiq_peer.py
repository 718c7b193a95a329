"""Run shapiq's ProxySPEX (the peer) on our data, in its own Python 3.12 venv.

shapiq >= 1.6 needs Python 3.12, so :func:`ensure_venv` builds a separate venv and
:func:`fit_shapiq_proxyspex` drives ``shapiq_runner.py`` in it through a subprocess.

    from benchmarks.peers.shapiq_peer import ensure_venv, fit_shapiq_proxyspex
    venv = ensure_venv()
    res = fit_shapiq_proxyspex(X_train, y_train, X_test, y_test, hpo=True)
    res["r2"], res["fit_seconds"], res["n_terms"]
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REQUIREMENTS = ("shapiq==1.8.0", "lightgbm==4.7.0")
REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("shapiq_runner.py")
_PROBE = "import shapiq, lightgbm; print(shapiq.__version__, lightgbm.__version__)"


def _version_key(python: str) -> tuple[int, ...]:
    """(3, 12, 1) for .../versions/3.12.1/bin/python; non-numeric parts sort first."""
    return tuple(int(x) if x.isdigit() else -1 for x in Path(python).parents[1].name.split("."))


def find_python312() -> str:
    """A Python 3.12 interpreter: pyenv's newest 3.12.x, else ``python3.12`` on PATH."""
    candidates = []
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=False).stdout.strip()
        found = glob.glob(os.path.join(root, "versions", "3.12.*", "bin", "python"))
        candidates += sorted(found, key=_version_key, reverse=True)
    if shutil.which("python3.12"):
        candidates.append(shutil.which("python3.12"))
    for python in candidates:
        probe = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 12)":
            return python
    raise RuntimeError(
        "shapiq's ProxySPEX needs Python 3.12, but none was found (looked in `pyenv root`/"
        "versions/3.12.*/bin/python and for python3.12 on PATH); install one, e.g. "
        "`pyenv install 3.12`."
    )


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(path: str | os.PathLike = ".bench-venv-shapiq") -> Path:
    """Create (once) a Python 3.12 venv with the pinned shapiq; return its path.

    A relative ``path`` is taken from the repository root. An existing venv whose shapiq and
    lightgbm versions match :data:`REQUIREMENTS` is reused as is.
    """
    venv = Path(path)
    venv = venv if venv.is_absolute() else REPO_ROOT / venv
    want = " ".join(r.split("==")[1] for r in REQUIREMENTS)
    python = _venv_python(venv)
    if python.exists():
        probe = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True,
                               check=False)
        if probe.returncode == 0 and probe.stdout.strip() == want:
            return venv
    subprocess.run([find_python312(), "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, *REQUIREMENTS], check=True)
    return venv


def fit_shapiq_proxyspex(
    X_train, y_train, X_test, y_test, hpo: bool, max_order: int | None = None,
    random_state: int = 0, venv: str | os.PathLike | None = None, timeout: float = 1800,
    threads: int | None = None,
) -> dict:
    """Fit shapiq's ProxySPEX surrogate on (X_train, y_train) and score it on the test set.

    Masks are bool with True = keep the feature. Returns the runner's JSON: ``r2`` (test),
    ``fit_seconds`` (surrogate fit only), ``n_terms`` (Fourier terms kept), ``notes`` and
    diagnostics (per-step ``timings``, ``model_params``, ``train_r2``, ...). ``threads`` sets
    OMP_NUM_THREADS for the run (LightGBM and BLAS); None keeps shapiq's default, all cores.
    """
    venv = ensure_venv() if venv is None else Path(venv)
    options = json.dumps({"hpo": bool(hpo), "max_order": max_order,
                          "random_state": int(random_state)})
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, X_train=np.asarray(X_train, dtype=bool),
                 y_train=np.asarray(y_train, dtype=float),
                 X_test=np.asarray(X_test, dtype=bool), y_test=np.asarray(y_test, dtype=float))
        cmd = [str(_venv_python(Path(venv))), str(RUNNER), str(data), options]
        try:
            env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"shapiq runner timed out after {timeout}s: {cmd}") from exc
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-30:])
        raise RuntimeError(f"shapiq runner failed (exit {proc.returncode}): {cmd}\n{tail}")
    return json.loads(lines[-1])


if __name__ == "__main__":  # python -m benchmarks.peers.shapiq_peer [VENV]: build and self-check
    venv = ensure_venv(*sys.argv[1:2])
    subprocess.run([str(_venv_python(venv)), str(RUNNER), "--selfcheck"], check=True)
