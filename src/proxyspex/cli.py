"""Command line: ``proxyspex explain ...`` and ``proxyspex demo``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .estimator import ProxySPEX
from .indices import INDICES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxyspex", description="Find the feature interactions that drive a model.")
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain", help="explain one input")
    explain.add_argument("--task", required=True, choices=["sentiment", "rag", "synthetic", "double-negative", "data",
                                                              "heads"])
    explain.add_argument("--text", help="the text to explain (sentiment)")
    explain.add_argument("--question", help="the question (rag)")
    explain.add_argument("--docs", help="file with one document per line, or JSONL with a 'text' field (rag)")
    explain.add_argument("--n", type=int, default=64, help="number of features (synthetic)")
    explain.add_argument("--n-train", type=int, default=32, help="training images, one feature each (data)")
    explain.add_argument("--test-index", type=int, default=0, help="index of the test image in load_digits (data)")
    explain.add_argument("--layers", default=None, help="comma-separated layers whose heads are features (heads; "
                         "default: all 270 heads of the embedded model, slow on a CPU)")
    explain.add_argument("--tasks", default=None, help="JSON (lines) file of multiple-choice tasks (heads; default: "
                         "the shipped set)")
    explain.add_argument("--prune", type=int, default=3, help="how many heads to suggest pruning (heads)")
    explain.add_argument("--model", default=None, help="DEFAULT (embedded SmolLM2-135M-Instruct), a local HF path, "
                         "or an OpenAI-compatible server URL such as http://localhost:8000/v1")
    explain.add_argument("--api-model", default=None,
                         help="model name on the --model server (default: the one it lists); key from $OPENAI_API_KEY")
    _common(explain)
    demo = sub.add_parser("demo", help="explain the seed's example end to end")
    _common(demo)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=int, default=None, help="masks to query (default: adaptive)")
    parser.add_argument("--index", default="moebius", choices=INDICES, help="index for the top list")
    parser.add_argument("--order", type=int, default=None, help="interaction order for the index")
    parser.add_argument("--top", type=int, default=10, help="how many interactions to print")
    parser.add_argument("--out", default=None, help="write an HTML report here")
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the query cache")


SEED_REVIEW = ("Her acting never fails to impress. She brings depth and authenticity to every role.")


def make_game(args: argparse.Namespace):
    from . import games
    model = None if args.model in (None, "DEFAULT") else args.model
    if getattr(args, "api_model", None):
        if not str(model or "").startswith(("http://", "https://")):
            raise ValueError("--api-model needs --model set to a server URL (http:// or https://)")
        from .models.openai import OpenAICompatible
        model = OpenAICompatible(model, model=args.api_model)
    if args.task == "double-negative":
        return games.DoubleNegativeGame()
    if args.task == "data":
        return games.DataAttribution.digits(args.n_train, test_index=args.test_index, random_state=args.seed)
    if args.task == "heads":
        from .games.attention_heads import parse_layers, read_tasks
        return games.AttentionHeads(model, layers=parse_layers(args.layers),
                                    tasks=read_tasks(args.tasks) if args.tasks else None)
    if args.task == "synthetic":
        return games.SyntheticGame(args.n, random_state=args.seed)
    if args.task == "sentiment":
        if not args.text:
            raise ValueError("--task sentiment needs --text")
        return games.Sentiment(args.text, model=model)
    if not (args.question and args.docs):
        raise ValueError("--task rag needs --question and --docs FILE")
    return games.RAG(args.question, read_documents(args.docs), model=model)


def read_documents(path: str) -> list[str]:
    """One document per line, or JSONL with a ``text`` field; blank lines are skipped."""
    docs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            docs.append(json.loads(line)["text"] if line.lstrip().startswith("{") else line.strip())
    if not docs:
        raise ValueError(f"no documents in {path}")
    return docs


def run(args: argparse.Namespace, game) -> int:
    start = time.perf_counter()
    result = ProxySPEX(budget=args.budget, random_state=args.seed, cache=False if args.no_cache else None,
                       progress=True).explain(game)
    print(f"explained {game!r} in {time.perf_counter() - start:.1f} s")
    print(result.summary(args.top, index=args.index))
    if args.task == "data":
        from .report.text import format_pairs
        print(format_pairs(result, k=args.top))
    if args.task == "heads":
        from .report.text import pruning_summary
        print(pruning_summary(result, game, k=args.prune))
    if args.out:
        from .report import write_html
        metadata = {"task": args.task, "model": getattr(getattr(game, "model", None), "fingerprint", "n/a")}
        write_html(result, args.out, title=getattr(game, "title", None) or repr(game), index=args.index,
                   metadata=metadata)
        print(f"report: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":  # the seed's example on the embedded model
        args.task, args.text, args.model = "sentiment", SEED_REVIEW, None
    try:
        return run(args, make_game(args))
    except (ValueError, TypeError, ImportError, OSError) as exc:
        print(f"proxyspex: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
