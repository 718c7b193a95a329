"""Command line: ``proxyspex explain ...``, ``proxyspex show x.json`` and ``proxyspex demo``.

Every argument is checked before a model loads, so a typo costs nothing.
"""

from __future__ import annotations

import argparse
import sys

from .indices import INDICES

#: Every task, with what it explains (``--task`` help and README).
TASKS = {
    "sentiment": "LLM: log-odds of ' positive' vs ' negative' for a review (--text or --text-file)",
    "rag": "LLM: log p(answer | --question, --docs); documents (or sentences) are the features",
    "synthetic": "no model: a random sparse function of --n features with a known spectrum",
    "double-negative": "no model: a 14-word review scored by a planted rule where 'never' and 'fails' each read "
                       "negative but together cancel (the strongest Moebius pair); exact in 2^14 masks",
    "data": "no LLM: which training images of load_digits (--n-train) help or hurt one test image together",
    "heads": "LLM: which attention heads of the model matter on multiple-choice tasks (--layers, --prune)",
}
UNITS = {"sentiment": ("word", "sentence"), "rag": ("document", "sentence")}
LEVELS = {"sentiment": ("sentence", "word"), "rag": ("document", "sentence")}
PLOTS = ("bar", "network", "text", "waterfall")
SEED_REVIEW = "Her acting never fails to impress. She brings depth and authenticity to every role."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxyspex", description="Find the feature interactions that drive a model.")
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain", help="explain one input", formatter_class=argparse.RawTextHelpFormatter)
    explain.add_argument("--task", required=True, choices=list(TASKS), metavar="TASK",
                         help="what to explain, one of:\n" + "\n".join(f"  {k}: {v}" for k, v in TASKS.items()))
    explain.add_argument("--text", help="the review to explain (sentiment)")
    explain.add_argument("--text-file", help="read the review from this UTF-8 file (sentiment; at most 1 MB)")
    explain.add_argument("--unit", default=None, help="the features: word|sentence (sentiment, default word) or "
                         "document|sentence (rag, default document)")
    explain.add_argument("--question", help="the question (rag)")
    explain.add_argument("--docs", help="one document per line, or JSONL with a 'text' field per line (rag)")
    explain.add_argument("--answer", default=None, help="the answer to explain (rag; default: the model's own)")
    explain.add_argument("--coarse-to-fine", action="store_true", help="explain sentences (rag: documents) first, "
                         "then split the --keep strongest into words (rag: sentences)")
    explain.add_argument("--keep", type=int, default=None, help="coarse units to refine (--coarse-to-fine; default 3)")
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
    explain.add_argument("--chat-template", default=None, metavar="FILE|server",
                         help="Jinja chat template for prompts sent to a --model server (rag), as in the model's "
                              "tokenizer_config.json; 'server' has the server apply its own (vLLM's /tokenize)")
    _common(explain)
    explain.add_argument("--save", default=None, metavar="JSON", help="save the explanation (reload: proxyspex show)")
    demo = sub.add_parser("demo", help="explain the seed's example end to end")
    _common(demo)
    demo.add_argument("--save", default=None, metavar="JSON", help="save the explanation (reload: proxyspex show)")
    show = sub.add_parser("show", help="print or render a saved explanation (no model needed)")
    show.add_argument("path", help="a file written by --save or Explanation.save")
    _output(show)
    return parser


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default="moebius", choices=INDICES, help="index for the top list")
    parser.add_argument("--order", type=int, default=None, help="interaction order of the index (as in "
                        "Explanation.values(index, order))")
    parser.add_argument("--top", type=int, default=10, help="how many interactions to print")
    parser.add_argument("--out", default=None, help="write an HTML report here")
    parser.add_argument("--plot", default=None, metavar="PNG", help="save a plot (matplotlib) here")
    parser.add_argument("--plot-kind", default="bar", choices=PLOTS, help="kind of --plot (default bar)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=int, default=None, help="masks to query (default: adaptive)")
    _output(parser)
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the query cache")


def main(argv: list[str] | None = None) -> int:
    from .cli_commands import check_args, explain_command, show_command

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the message
        return int(exc.code or 0)
    if args.command == "demo":  # the seed's example on the embedded model
        args.task, args.text, args.model, args.text_file, args.unit = "sentiment", SEED_REVIEW, None, None, None
        args.coarse_to_fine = False
    try:
        inputs = check_args(args)
    except (ValueError, TypeError, ImportError, OSError) as exc:
        print(f"proxyspex {args.command}: error: {exc}", file=sys.stderr)
        return 2
    try:
        return show_command(args) if args.command == "show" else explain_command(args, inputs)
    except (ValueError, TypeError, ImportError, OSError) as exc:
        print(f"proxyspex: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
