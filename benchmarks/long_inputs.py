"""Issue 11: faithfulness against inferences on long inputs (60-300-word reviews, 48-64-document QA).

For each input: 1000 uniform held-out masks (queried once, cached), then held-out R^2 against
distinct inferences for ProxySPEX and LASSO at budgets alpha * n * log2 n, and SPEX at t = 3
and t = 5 at its feasible budgets (b = 3, 4, ... up to the largest ProxySPEX budget). The
headline: the inferences ProxySPEX needs to match SPEX's best R^2, and the ratio. Results are
kept per input in results/long_inputs.json, saved after every point (a rerun, or a killed run
resumed, pays only for new masks); BENCHMARKS.md's section and figures/long_r2.png are rendered
from that file. ``--quick`` keeps its own file (long_inputs_quick.json): its 500 held-out masks
are the first half of the full run's 1000, and its numbers never replace the full run's.

    python benchmarks/long_inputs.py --quick            # review_80 (alpha <= 2), qa_48 (alpha <= 1), SPEX b = 3
    python benchmarks/long_inputs.py --inputs review_150 --alphas 0.5,1,2,4,8
    python benchmarks/long_inputs.py --render           # tables + figure from the saved results
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from long_games import CACHE, N_TEST, RESULTS, cache_key, held_out, load_inputs, make_game

from proxyspex import ProxySPEX
from proxyspex.baselines import SPEX, Lasso
from proxyspex.baselines.spex import spex_min_budget
from proxyspex.cache import QueryCache
from proxyspex.evaluate import r2_score
from proxyspex.masks import default_budget

OUT = RESULTS / "long_inputs.json"
QUICK_OUT = RESULTS / "long_inputs_quick.json"
ALPHAS = (0.5, 1.0, 2.0, 4.0, 8.0)
# --quick: alphas per input. QA masks cost ~6x a review's (0.75 vs ~5 masks/s on 2 cores), and
# ProxySPEX passes SPEX's b = 3 R^2 on qa_48 below alpha = 0.5, so QA stops at alpha = 1.
QUICK = {"inputs": {"review_80": (0.5, 1.0, 2.0), "qa_48": (0.25, 0.5, 1.0)}, "spex_orders": (3,), "spex_steps": 1,
         "n_test": 500}


def run_input(name: str, lm, cache: QueryCache, *, alphas, spex_orders, spex_steps: int, log,
              save=lambda record: None, n_test: int = N_TEST) -> dict:
    """Every method's held-out R^2 on one input; each point is logged and ``save``d as it lands."""
    started = time.perf_counter()
    game = make_game(name, lm)
    X_test, y_test = held_out(game, cache, n_test)
    key = cache_key(game)
    record = {"name": name, "n": game.n, "kind": load_inputs()[name]["kind"], "test_var": float(np.var(y_test)),
              "n_test": n_test, "points": [], "answer": getattr(game, "answer", None), "complete": False}

    def add(method: str, result, budget: int, extra: dict | None = None) -> None:
        point = {"method": method, "budget": budget, "inferences": int(result.n_queries), "paid": int(result.n_paid),
                 "explain_seconds": round(result.explain_seconds, 1),
                 "r2": r2_score(y_test, result.predict(X_test)), "faithfulness": float(result.faithfulness),
                 "seconds": round(time.perf_counter() - started, 1), **(extra or {})}
        record["points"].append(point)
        log(f"{name} {method:10s} B={budget:5d} inferences={point['inferences']:5d} R2={point['r2']:+.3f} "
            f"faithfulness={point['faithfulness']:+.3f} paid={point['paid']} in {point['explain_seconds']}s "
            f"t={point['seconds']}s")
        save(record)

    def explain(estimator):
        """The explanation, with the wall time of the call (model queries, cache and fit) attached."""
        tick = time.perf_counter()
        result = estimator.explain(game, cache_key=key)
        result.explain_seconds = time.perf_counter() - tick
        return result

    for alpha in alphas:
        budget = default_budget(game.n, alpha)
        add("proxyspex", explain(ProxySPEX(budget=budget, random_state=0, cache=cache, progress=False)),
            budget, {"alpha": alpha})
        add("lasso", explain(Lasso(budget=budget, random_state=0, cache=cache, progress=False)),
            budget, {"alpha": alpha})
    largest = default_budget(game.n, max(alphas))
    for t in spex_orders:
        for step in range(spex_steps):
            budget = spex_min_budget(game.n, t) << step
            if step and budget > largest:
                break
            result = explain(SPEX(budget=budget, max_order=t, random_state=0, cache=cache, progress=False))
            add(f"spex_t{t}", result, budget, {"b": result.details["sparsity_b"], "t": t})
    record.update(seconds=round(time.perf_counter() - started, 1), complete=True)
    save(record)
    return record


def load_results(path: Path = OUT) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.exists() else {}


def save_result(record: dict, path: Path = OUT) -> None:
    """Store one input's record. While it is incomplete, the saved record keeps the earlier points it
    has not re-measured yet, so a killed rerun loses nothing; a complete record replaces them all."""
    with open(path.with_suffix(".lock"), "w") as lock:  # two runs on different inputs may save at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = load_results(path)
        if not record.get("complete", True) and record["name"] in results:
            measured = {(p["method"], p["budget"]) for p in record["points"]}
            earlier = [p for p in results[record["name"]]["points"] if (p["method"], p["budget"]) not in measured]
            record = {**record, "points": record["points"] + earlier}
        results[record["name"]] = record
        staged = path.with_suffix(".tmp")
        staged.write_text(json.dumps(results, indent=1))
        staged.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="review_80 (alpha <= 2) and qa_48 (alpha <= 1), SPEX t = 3 at b = 3, 500 held out")
    parser.add_argument("--inputs", default=",".join(load_inputs()), help="comma-separated input names")
    parser.add_argument("--alphas", default=",".join(map(str, ALPHAS)))
    parser.add_argument("--spex-orders", default="3,5")
    parser.add_argument("--spex-steps", type=int, default=2, help="SPEX budgets tried: b = 3, 4, ...")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: all cores; 1 when other jobs share the machine)")
    parser.add_argument("--cache", default=str(CACHE), help="the query cache (a fresh file times a cold run)")
    parser.add_argument("--render", action="store_true", help="only rewrite BENCHMARKS.md and the figure")
    args = parser.parse_args()
    if not args.render:
        started = time.perf_counter()  # the total includes importing torch and loading the model
        alphas = [float(a) for a in args.alphas.split(",")]
        plan = {name: alphas for name in args.inputs.split(",")}
        unknown = sorted(set(plan) - set(load_inputs()))
        if unknown:  # before torch is imported: a typo fails at once
            parser.error(f"unknown input(s) {', '.join(unknown)}; shipped: {', '.join(load_inputs())}")
        import torch

        from proxyspex.models import LocalLM

        torch.set_num_threads(args.threads or os.cpu_count() or 1)
        orders, steps, n_test = [int(t) for t in args.spex_orders.split(",") if t], args.spex_steps, N_TEST
        if args.quick:
            plan, orders = dict(QUICK["inputs"]), list(QUICK["spex_orders"])
            steps, n_test = QUICK["spex_steps"], QUICK["n_test"]
        out = QUICK_OUT if args.quick else OUT
        lm, cache = LocalLM(), QueryCache(args.cache)
        load = os.getloadavg()[0]
        about = {"load_start": load, "command": " ".join(sys.argv[1:])}

        def save(record: dict) -> None:
            save_result({**record, **about, "load_end": os.getloadavg()[0]}, out)

        for name, alphas in plan.items():
            run_input(name, lm, cache, alphas=alphas, spex_orders=orders, spex_steps=steps, n_test=n_test,
                      log=lambda line: print(line, flush=True), save=save)
        total = time.perf_counter() - started
        print(f"total {total:.0f} s (model loading included), load {load:.1f} -> {os.getloadavg()[0]:.1f}")
        if args.quick:
            (RESULTS / "long_quick_time.json").write_text(json.dumps(
                {"seconds": round(total), "cache": args.cache, "load_start": load, "load_end": os.getloadavg()[0]}))
    from long_report import render

    render(load_results())


if __name__ == "__main__":
    main()
