"""What the command line does: check every argument, build the game, explain it, print, save and render."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from . import explanation as explanation_module
from ._validation import check_int
from .cli import LEVELS, UNITS
from .estimator import ProxySPEX, check_budget, resolve_game
from .indices import normalize_index
from .query import Queries
from .report.describe import header_fields
from .report.text import format_description, format_summary, unit_labels
from .textfiles import check_size, check_unicode, read_documents, read_text_file

DEFAULT_KEEP = 3
TASKS_TITLE = {"sentiment": "Sentiment", "rag": "Question answering", "double-negative": "Double negative"}
SERVER = ("http://", "https://")


def check_args(args: argparse.Namespace) -> dict:
    """Validate ``args`` and read every input file, before any model loads; returns the inputs read."""
    for name, minimum in (("top", 1), ("order", 1), ("budget", 1), ("seed", 0), ("n", 1), ("n_train", 1),
                          ("test_index", 0), ("prune", 0), ("keep", 1)):
        if getattr(args, name, None) is not None:
            check_int(f"--{name.replace('_', '-')}", getattr(args, name), min_value=minimum)
    index = normalize_index(args.index)
    if index in ("shapley", "banzhaf") and args.order not in (None, 1):
        raise ValueError(f"--index {index} is first order; drop --order {args.order} or pick an interaction index "
                         "such as --index fsii")
    for flag in ("out", "save", "plot"):
        _check_writable(f"--{flag}", getattr(args, flag, None))
    if args.plot and not hasattr(explanation_module.Explanation, "plot"):
        raise ImportError("--plot needs Explanation.plot, which this version of proxyspex lacks")
    if args.command == "show":
        if not Path(args.path).is_file():
            raise OSError(f"{args.path}: no such file (write one with proxyspex explain ... --save FILE)")
        _load_function()  # fail now if px.load is missing
        return {}
    if getattr(args, "save", None) and not hasattr(explanation_module.Explanation, "save"):
        raise ImportError("--save needs Explanation.save, which this version of proxyspex lacks")
    return _check_task(args)


def _check_task(args: argparse.Namespace) -> dict:
    task, inputs = args.task, {}
    url = str(getattr(args, "model", None) or "").startswith(SERVER)
    if args.unit is not None and args.unit not in UNITS.get(task, ()):
        allowed = " or ".join(f"{t}: {'|'.join(u)}" for t, u in UNITS.items())
        raise ValueError(f"--unit {args.unit} does not apply to --task {task} ({allowed})")
    if getattr(args, "answer", None) is not None and task != "rag":
        raise ValueError("--answer applies to --task rag (the answer to explain)")
    for flag, value in (("--api-model", getattr(args, "api_model", None)),
                        ("--chat-template", getattr(args, "chat_template", None))):
        if value and not url:
            raise ValueError(f"{flag} needs --model set to a server URL (http:// or https://)")
    if getattr(args, "chat_template", None) == "server":  # the server renders its own template (vLLM /tokenize)
        inputs["chat_template"] = "server"
    elif getattr(args, "chat_template", None):
        inputs["chat_template"] = read_text_file(args.chat_template, name="--chat-template")
    if args.coarse_to_fine and task not in LEVELS:
        raise ValueError(f"--coarse-to-fine applies to --task sentiment or rag, not {task}")
    if getattr(args, "keep", None) is not None and not args.coarse_to_fine:
        raise ValueError("--keep applies only with --coarse-to-fine")
    if args.coarse_to_fine:
        _coarse_to_fine_function()
    if task == "sentiment":
        if bool(args.text) == bool(args.text_file):
            raise ValueError("--task sentiment needs --text TEXT or --text-file FILE (one of them)")
        text = read_text_file(args.text_file) if args.text_file else check_size("--text", args.text)
        inputs["text"] = check_unicode("--text", text)
    if task == "rag":
        if not (args.question and args.docs):
            raise ValueError("--task rag needs --question and --docs FILE")
        inputs["question"] = check_unicode("--question", check_size("--question", args.question))
        inputs["docs"] = read_documents(args.docs)
        if args.answer is not None:
            if not args.answer.strip():
                raise ValueError("--answer is empty; drop it to explain the model's own answer")
            check_unicode("--answer", check_size("--answer", args.answer))
    n = _count_features(args, inputs)
    if args.budget is not None and n is not None and not args.coarse_to_fine:
        check_budget("--budget", args.budget, n)
    return inputs


def _check_writable(flag: str, path: str | None) -> None:
    if not path:
        return
    folder = Path(path).resolve().parent
    if Path(path).is_dir():
        raise OSError(f"{flag} {path} is a directory; give a file name")
    if not folder.is_dir():
        raise OSError(f"{flag} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise OSError(f"{flag} {path}: the folder {folder} is not writable; pick another place")


def _count_features(args: argparse.Namespace, inputs: dict) -> int | None:
    """The number of features, where it is known without the model (for the budget check)."""
    from .games.text import segment

    if args.task == "sentiment":
        return segment(inputs["text"], args.unit or "word").n
    if args.task == "rag":
        if args.unit == "sentence":
            return sum(segment(doc, "sentence").n for doc in inputs["docs"])
        return len(inputs["docs"])
    return {"synthetic": args.n, "double-negative": 14, "data": args.n_train}.get(args.task)


def _coarse_to_fine_function():
    import proxyspex

    function = getattr(proxyspex, "explain_coarse_to_fine", None)
    if function is None:
        raise ImportError("--coarse-to-fine needs px.explain_coarse_to_fine, which this version of proxyspex lacks")
    return function


def _load_function():
    import proxyspex

    function = getattr(proxyspex, "load", None)
    if function is None:
        raise ImportError("proxyspex show needs px.load, which this version of proxyspex lacks")
    return function


def make_model(args: argparse.Namespace, inputs: dict):
    """None (the embedded model), a local path, or a server client with its chat template."""
    model = None if args.model in (None, "DEFAULT") else args.model
    if str(model or "").startswith(SERVER):
        from .models.openai import OpenAICompatible

        return OpenAICompatible(model, model=getattr(args, "api_model", None),
                                chat_template=inputs.get("chat_template"))
    return model


def make_game(args: argparse.Namespace, inputs: dict | None = None):
    """The game ``args`` describe (``inputs``: what :func:`check_args` read)."""
    from . import games

    inputs = inputs if inputs is not None else check_args(args)
    if args.task == "double-negative":
        return games.DoubleNegativeGame()
    if args.task == "synthetic":
        return games.SyntheticGame(args.n, random_state=args.seed)
    if args.task == "data":
        return games.DataAttribution.digits(args.n_train, test_index=args.test_index, random_state=args.seed)
    model = make_model(args, inputs)
    if args.task == "heads":
        from .games.attention_heads import parse_layers, read_tasks
        return games.AttentionHeads(model, layers=parse_layers(args.layers),
                                    tasks=read_tasks(args.tasks) if args.tasks else None)
    if args.task == "sentiment":
        return games.Sentiment(inputs["text"], model=model, unit=args.unit or "word")
    return games.RAG(inputs["question"], inputs["docs"], model=model, unit=args.unit or "document",
                     answer=args.answer)


def anchor_values(game, result, *, cache) -> tuple[float, float]:
    """The model's value on the full and on the empty input (from the cache when the explanation ran with it)."""
    masks = np.array([np.ones(game.n, dtype=bool), np.zeros(game.n, dtype=bool)])
    if result.details.get("exact") and result.n == game.n:
        values = result.predict(masks)
    else:
        value_function, n, _, key = resolve_game(game, None, None, None)
        queries = Queries(value_function, n, key=key, cache=cache, progress=False)
        try:
            values = queries(masks)
        finally:
            queries.close()
    return float(values[0]), float(values[1])


def explain_command(args: argparse.Namespace, inputs: dict) -> int:
    """``proxyspex explain`` and ``proxyspex demo``."""
    start = time.perf_counter()
    cache = False if args.no_cache else None
    game = make_game(args, inputs)
    about = header_fields(game, task=args.task)
    print(format_description(about))  # what is explained, the answer included, before paying for it
    if args.coarse_to_fine:
        result = _coarse_to_fine_function()(game, levels=LEVELS[args.task], keep=args.keep or DEFAULT_KEEP,
                                            budget=args.budget, random_state=args.seed, cache=cache, progress=True)
    else:
        result = ProxySPEX(budget=args.budget, random_state=args.seed, cache=cache, progress=True).explain(game)
    elapsed = time.perf_counter() - start
    about = header_fields(game, task=args.task, values=anchor_values(game, result, cache=cache))
    result.details["description"] = about
    print(f"value, full input: {about['value, full input']}; empty input: {about['value, empty input']}")
    print(f"explained {game!r} in {elapsed:.1f} s (model loading included)")
    if result.details.get("levels"):
        levels = " → ".join(result.details["levels"])
        fine = list(game.feature_names)
        result.details["unit_text"] = [name if len(group) == 1 else " ".join(fine[i] for i in group)
                                       for name, group in zip(result.feature_names, result.details["groups"])]
        labels = ", ".join(unit_labels(result.feature_names, width=24))
        print(f"features at mixed levels ({levels}), {result.n}: {labels}")
    print(format_summary(result, args.top, index=args.index, order=args.order))
    if args.task == "data":
        from .report.text import format_pairs
        print(format_pairs(result, k=args.top))
    if args.task == "heads":
        from .report.text import pruning_summary
        print(pruning_summary(result, game, k=args.prune))
    title = getattr(game, "title", None) or f"{TASKS_TITLE.get(args.task, args.task)} ({result.n} units)"
    write_outputs(result, args, title=title)
    return 0


def show_command(args: argparse.Namespace) -> int:
    """``proxyspex show x.json``: print and render a saved explanation, without the model."""
    result = _load_function()(args.path)
    about = (result.details or {}).get("description") or {}
    if not about:  # saved by the Python API: the game's own description, its plain fields only
        game_info = getattr(result, "game_info", None) or {}
        about = {"task": str(game_info.get("class", "explanation"))}
        about.update({k: str(v) for k, v in (game_info.get("description") or {}).items()
                      if isinstance(v, (str, int, float))})
    if about:
        print(format_description(about))
    print(format_summary(result, args.top, index=args.index, order=args.order))
    write_outputs(result, args, title=about.get("task", "proxyspex explanation") + f" ({result.n} units)")
    return 0


def write_outputs(result, args: argparse.Namespace, *, title: str) -> None:
    """The --out report, the --plot figure and the --save file that ``args`` ask for."""
    if getattr(args, "save", None):
        result.save(args.save)
        print(f"saved: {args.save}")
    if args.out:
        from .report import write_html
        write_html(result, args.out, title=title, index=args.index, order=args.order, shown=args.top,
                   top=max(50, args.top))
        print(f"report: {args.out}")
    if args.plot:
        figure = result.plot(args.plot_kind, index=args.index)
        figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"plot: {args.plot}")
