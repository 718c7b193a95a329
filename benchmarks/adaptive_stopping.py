"""Where adaptive mode stops on LLM value functions: the old rule (two rounds gaining < tol) against
the new one (plateau within the estimate's interval, target, cap), on the same nested rounds.

Every round's masks are those ProxySPEX itself draws (anchors, then n log2 n, doubling to the
10 n log2 n cap), queried once through the cache, so both rules read the same R^2 sequence.

    PYTHONPATH=src python benchmarks/adaptive_stopping.py [--texts N] [--cache PATH]
    PYTHONPATH=src python benchmarks/adaptive_stopping.py --dataset benchmarks/results/long_review_80.npz

``--dataset`` replays the doubling rounds on an offline long dataset (long_games.py: nested prefixes
of its training masks, up to the cap or the masks it holds) and adds each round's held-out R².
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import proxyspex as px
from proxyspex.adaptive import Round, StoppingRule, fit_interval
from proxyspex.estimator import ADAPTIVE_CAP_ALPHA
from proxyspex.explainer import anchor_masks, draw_seed
from proxyspex.masks import default_budget, sample_masks
from proxyspex.metrics import r2_score
from proxyspex.proxy import default_configs, fit_proxy
from proxyspex.query import Queries

TEXTS = [text for text, _ in px.games.LABELLED_REVIEWS[:6]] + [
    "The first half drags and the dialogue is flat. Yet the ending is not bad at all, and the lead never fails "
    "to impress.",
]


def rounds_to_cap(game, *, cache, random_state: int = 0) -> list[Round]:
    """Every round up to the cap, as ProxySPEX draws them (same generator, same order)."""
    n = game.n
    cap = default_budget(n, ADAPTIVE_CAP_ALPHA)
    rng = np.random.default_rng(random_state)
    queries = Queries(game, n, key=f"{game.fingerprint}|n={n}", cache=cache, progress=False)
    X = anchor_masks(n)
    X = np.vstack([X, sample_masks(n, min(default_budget(n), cap) - len(X), rng, exclude=X)])
    rounds, configs = [], default_configs(3)
    while True:
        paid, tick = queries.n_paid, time.perf_counter()
        y = queries(X)
        tock = time.perf_counter()
        fit = fit_proxy(X, y, configs=configs, random_state=draw_seed(rng))
        configs = [fit.tree_config]
        low, high = fit_interval(fit, X, y)
        rounds.append(Round(len(X), fit.faithfulness, low, high, queries.n_paid - paid, tock - tick,
                            time.perf_counter() - tock))
        if len(X) >= cap:
            return rounds
        X = np.vstack([X, sample_masks(n, min(2 * len(X), cap) - len(X), rng, exclude=X)])


def rounds_on_dataset(path: str) -> tuple[list[Round], list[float]]:
    """The doubling rounds replayed on nested prefixes of an offline dataset, and each round's held-out R^2."""
    data = np.load(path)
    X_all, y_all, X_test, y_test = data["X_train"], data["y_train"], data["X_test"], data["y_test"]
    n = X_all.shape[1]
    cap = min(default_budget(n, ADAPTIVE_CAP_ALPHA), len(X_all))
    size, rounds, held_out, configs = min(default_budget(n), cap), [], [], default_configs(3)
    while True:
        X, y = X_all[:size], y_all[:size]
        tock = time.perf_counter()
        fit = fit_proxy(X, y, configs=configs, random_state=0)
        configs = [fit.tree_config]
        low, high = fit_interval(fit, X, y)
        rounds.append(Round(size, fit.faithfulness, low, high, size - (rounds[-1].n_masks if rounds else 0), 0.0,
                            time.perf_counter() - tock))
        held_out.append(r2_score(y_test, fit.spectrum.predict(X_test)))
        if size >= cap:
            return rounds, held_out
        size = min(2 * size, cap)


def old_stop(rounds: list[Round], tol: float = 0.01, target: float = 0.99) -> int:
    """Rounds the rule before this change ran: stop at the target, or after two gains below tol."""
    for k in range(1, len(rounds) + 1):
        r2 = [r.r2 for r in rounds[:k]]
        gains = np.diff(r2)
        if r2[-1] >= target or (len(gains) >= 2 and max(gains[-2:]) <= tol):
            return k
    return len(rounds)


def new_stop(rounds: list[Round], cap: int | None = None) -> tuple[int, str]:
    """The round where the stopping rule stops (``cap``: its mask cap, default the last round's masks)."""
    rule = StoppingRule(cap=cap or rounds[-1].n_masks)
    for k in range(1, len(rounds) + 1):
        if rule.next_size(rounds[:k], 0.0) is None:
            return k, rule.reason
    return len(rounds), "the rounds ran out first: the rule would go on"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=len(TEXTS))
    parser.add_argument("--cache", default=None)
    parser.add_argument("--dataset", default=None, help="an offline long dataset (.npz) to replay instead")
    args = parser.parse_args()
    if args.dataset:
        rounds, held_out = rounds_on_dataset(args.dataset)
        n = int(np.load(args.dataset)["X_train"].shape[1])
        new, reason = new_stop(rounds, cap=default_budget(n, ADAPTIVE_CAP_ALPHA))
        print("| round | masks | estimate [interval] | held-out R² |\n|---|---|---|---|")
        for k, (r, truth) in enumerate(zip(rounds, held_out), start=1):
            stop = f" ← stops here ({reason})" if k == new else ""
            print(f"| {k} | {r.n_masks} | {r.r2:.3f} [{r.r2_low:.3f}, {r.r2_high:.3f}] | {truth:.3f}{stop} |")
        return
    print("| n | cap | R² by round | old rule: masks (R²) | new rule: masks (R²), reason |")
    print("|---|---|---|---|---|")
    for text in TEXTS[: args.texts]:
        game = px.games.Sentiment(text)
        rounds = rounds_to_cap(game, cache=args.cache)
        old = old_stop(rounds)
        new, reason = new_stop(rounds)
        trace = ", ".join(f"{r.r2:.2f}±{r.half_width:.2f}" for r in rounds)
        print(f"| {game.n} | {rounds[-1].n_masks} | {trace} | {rounds[old - 1].n_masks} ({rounds[old - 1].r2:.2f}) "
              f"| {rounds[new - 1].n_masks} ({rounds[new - 1].r2:.2f}), {reason} |", flush=True)


if __name__ == "__main__":
    main()
