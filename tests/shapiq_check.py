"""Run inside shapiq 1.8's own venv (Python 3.12): load our exported files, recompute, and plot.

Usage: python shapiq_check.py manifest.json out.json. The manifest lists the exported files and the
full value table of the game; the output holds, per file, what shapiq loaded, what shapiq's own
ExactComputer gives for that index on the same table, and which of shapiq's plots accepted it.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shapiq  # noqa: E402
from shapiq.game_theory.exact import ExactComputer  # noqa: E402


def key(term):
    return ",".join(map(str, term))


def main(manifest_path, out_path):
    manifest = json.load(open(manifest_path))
    n, table = manifest["n"], np.array(manifest["table"])

    def game(coalitions):
        return table[(np.asarray(coalitions, dtype=int) << np.arange(n)).sum(axis=1)]

    exact = ExactComputer(game, n_players=n)
    out = {"version": shapiq.__version__, "files": {}}
    for item in manifest["files"]:
        iv = shapiq.InteractionValues.load(item["path"])
        truth = exact(index=iv.index, order=iv.max_order)
        plots = {}
        names = manifest["feature_names"]
        for name, draw in [
            ("bar", lambda: shapiq.plot.bar_plot([iv], feature_names=names, show=False)),
            ("network", lambda: shapiq.plot.network_plot(iv, feature_names=names, show=False)),
            ("upset", lambda: shapiq.plot.upset_plot(iv, feature_names=names, show=False)),
            ("waterfall", lambda: shapiq.plot.waterfall_plot(iv, feature_names=names, show=False)),
            ("force", lambda: shapiq.plot.force_plot(iv, feature_names=names, show=False)),
        ]:
            if name == "network" and iv.max_order < 2:
                continue
            try:
                plots[name] = draw() is not None and len(plt.get_fignums()) > 0
            except Exception as exc:  # noqa: BLE001 - report which plot refused the object
                plots[name] = f"{type(exc).__name__}: {exc}"
            plt.close("all")
        out["files"][item["name"]] = {
            "index": iv.index, "max_order": iv.max_order, "min_order": iv.min_order, "n_players": iv.n_players,
            "baseline_value": float(iv.baseline_value),
            "loaded": {key(t): float(v) for t, v in iv.dict_values.items()},
            "shapiq_exact": {key(t): float(v) for t, v in truth.dict_values.items()},
            "shapiq_exact_baseline": float(truth.baseline_value),
            "plots": plots,
        }
    json.dump(out, open(out_path, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:])
