"""zoobench's word2vec against gensim's Word2Vec: same corpus, vocabulary, sizes, epochs; scores and words/s.

Both train on the same tokenized sentences (:func:`zoo.data.corpus.dataset_texts`
+ :func:`~zoo.data.corpus.tokenize_words`) with the same vocabulary (checked:
gensim's ``min_count`` vocabulary equals zoobench's words), dimension, window,
negatives, subsampling, learning rate (0.025 decayed linearly to 1e-4) and
epochs. Both sets of vectors are scored by the same code (:mod:`zoo.eval_words`);
gensim's own evaluators are printed beside ours as a check of that code.

Speed: words/s = in-vocabulary corpus words x epochs / training seconds, the
same count for both. zoobench's seconds are the training loop's (example
drawing included, per-epoch evaluation excluded); gensim's are ``train()``'s.
The ratio is taken per seed from runs made back to back in the same process,
with the same number of threads for both (``--threads``: torch threads and
gensim ``workers``).

    OMP_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=8000000000 \\
        python benchmarks/word2vec_vs_gensim.py --data w2v_combined --epochs 20 --seeds 0 1 2 --threads 1

gensim is an optional benchmark dependency: ``pip install 'zoobench[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

MODELS = {"word2vec_sgns": 1, "word2vec_cbow": 0, "word2vec_sgns_tiny": 1}  # gensim's sg flag


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="word2vec_sgns", choices=sorted(MODELS))
    p.add_argument("--data", default="w2v_combined", help="w2v_combined, wikitext2 or w2v_tiny")
    p.add_argument("--parts", default="wikitext2,spa_eng,shakespeare", help="corpus parts of w2v_combined")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=1, help="torch threads and gensim workers")
    p.add_argument("--batch-size", type=int, default=4096, help="zoobench examples per step")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--shared-negatives", type=int, default=64)
    p.add_argument("--subsample", type=float, default=1e-3)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.025)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--analogy-vocab", type=int, default=30_000)
    p.add_argument("--only", choices=("zoo", "gensim"), help="run one side only (no ratio)")
    p.add_argument("--json", help="write every run's figures to this file")
    return p.parse_args(argv)


def sentences_of(args: argparse.Namespace) -> list[list[str]]:
    from zoo.data.corpus import dataset_texts, tokenize_words

    texts = dataset_texts(args.data, args.parts) if args.data == "w2v_combined" else dataset_texts(args.data)
    return [s for s in (tokenize_words(t) for t in texts) if s]


def score(wv: Any, evaluation: Any, analogy_vocab: int) -> dict[str, float]:
    s = evaluation.scores(wv, analogy_vocab=analogy_vocab)
    return {k: s[k] for k in ("analogy_acc", "ws353_spearman", "simlex_spearman", "analogy_coverage", "ws353_coverage")}


def run_gensim(args: argparse.Namespace, seed: int, sentences: list[list[str]], train_words: int, evaluation: Any) -> dict[str, Any]:
    from gensim.models import Word2Vec

    from zoo.eval_words import WordVectors

    model = Word2Vec(
        vector_size=args.dim, window=args.window, negative=args.negatives, hs=0, sample=args.subsample,
        min_count=args.min_count, sg=MODELS[args.model], cbow_mean=1, alpha=args.lr, min_alpha=args.min_lr,
        ns_exponent=0.75, workers=args.threads, seed=seed, epochs=args.epochs,
    )  # fmt: skip
    model.build_vocab(sentences)
    t0 = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
    seconds = time.perf_counter() - t0
    kv = model.wv
    counts = [kv.get_vecattr(w, "count") for w in kv.index_to_key]
    wv = WordVectors(kv.vectors, kv.index_to_key, counts=counts)
    out = {"side": "gensim", "seed": seed, "seconds": seconds, "words_per_s": train_words * args.epochs / seconds,
           "gensim_raw_words_per_s": raw / seconds, "vocab": list(kv.index_to_key), **score(wv, evaluation, args.analogy_vocab)}  # fmt: skip
    # gensim's own evaluators, as a check of zoo.eval_words (same restriction, case-insensitive).
    from gensim.test.utils import datapath

    acc, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=args.analogy_vocab, case_insensitive=True)
    ws = kv.evaluate_word_pairs(datapath("wordsim353.tsv"), restrict_vocab=len(kv), case_insensitive=True)
    sl = kv.evaluate_word_pairs(datapath("simlex999.txt"), restrict_vocab=len(kv), case_insensitive=True)
    out.update(gensim_eval_analogy_acc=acc, gensim_eval_ws353=float(ws[1].statistic), gensim_eval_simlex=float(sl[1].statistic))
    return out


def run_zoo(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from zoo.training import train

    options = {"min_count": args.min_count, **({"parts": args.parts} if args.data == "w2v_combined" else {})}
    res = train(
        args.model, args.data, seed=seed, batch_size=args.batch_size, data_options=options, threads=args.threads,
        logger="none", progress=False, max_epochs=args.epochs, restore_best=False, dim=args.dim, window=args.window,
        negatives=args.negatives, shared_negatives=args.shared_negatives, subsample=args.subsample,
        optimizer="sgd", lr=args.lr, schedule="linear", min_lr=args.min_lr, analogy_vocab=args.analogy_vocab,
    )  # fmt: skip
    info = res.data.info.extra
    seconds = res.fit.train_seconds
    wv = res.task.word_vectors()
    test = res.metrics["test"]  # the task's word scores: zoo.eval_words, as score() for gensim
    return {"side": "zoo", "seed": seed, "seconds": seconds, "words_per_s": info["train_words"] * args.epochs / seconds,
            "examples_per_s": res.fit.throughput, "final_train_loss": res.fit.history[-1]["train_loss"],
            "diverged": bool(res.fit.diverged),
            "vocab": [w for w, c in zip(wv.words, info["counts"]) if c > 0], "train_words": info["train_words"],
            **{k: test[k] for k in ("analogy_acc", "ws353_spearman", "simlex_spearman", "analogy_coverage", "ws353_coverage")}}  # fmt: skip


def mean_spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} (min {min(values):.4f}, max {max(values):.4f})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from zoo.eval_words import WordEval

    t0 = time.perf_counter()
    sentences = sentences_of(args)
    evaluation = WordEval.load()
    print(f"corpus {args.data}: {len(sentences):,} sentences, {sum(map(len, sentences)):,} words "
          f"({time.perf_counter() - t0:.1f} s to read); threads {args.threads}; torch {torch.get_num_threads()} threads", flush=True)  # fmt: skip
    runs: list[dict[str, Any]] = []
    train_words = None
    for i, seed in enumerate(args.seeds):
        # Alternate the order so that a drift in machine load does not always favour one side.
        order = ("gensim", "zoo") if i % 2 == 0 else ("zoo", "gensim")
        pair: dict[str, dict[str, Any]] = {}
        for side in order:
            if args.only and side != args.only:
                continue
            if side == "zoo":
                r = run_zoo(args, seed)
                train_words = r["train_words"]
            else:
                if train_words is None:  # count in-vocab words as the loader does
                    from collections import Counter

                    c = Counter(w for s in sentences for w in s)
                    train_words = sum(n for n in c.values() if n >= args.min_count)
                r = run_gensim(args, seed, sentences, train_words, evaluation)
            pair[side] = r
            shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "vocab"}
            print(json.dumps(shown), flush=True)
            if r.get("diverged"):
                print(f"zoo seed {seed} DIVERGED (training loss NaN after {r['seconds']:.1f} s): its scores are of broken vectors; "
                      f"try a smaller --batch-size (now {args.batch_size}) or --lr (now {args.lr})", flush=True)
        if len(pair) == 2:
            same = set(pair["zoo"]["vocab"]) - {"<unk>"} == set(pair["gensim"]["vocab"]) - {"<unk>"}
            ratio = pair["zoo"]["words_per_s"] / pair["gensim"]["words_per_s"]
            print(f"seed {seed}: same vocabulary: {same} ({len(pair['zoo']['vocab']):,} words); words/s ratio zoo/gensim {ratio:.3f}", flush=True)
            pair["zoo"]["ratio"] = ratio
        runs += list(pair.values())

    print(f"\n{args.model} vs gensim Word2Vec on {args.data}: {args.epochs} epochs, seeds {args.seeds}, {args.threads} thread(s) each")
    for side in ("zoo", "gensim"):
        rs = [r for r in runs if r["side"] == side]
        if not rs:
            continue
        print(f"  {side:6}  analogy {mean_spread([r['analogy_acc'] for r in rs])}")
        print(f"          ws353   {mean_spread([r['ws353_spearman'] for r in rs])}")
        print(f"          simlex  {mean_spread([r['simlex_spearman'] for r in rs])}")
        print(f"          words/s {mean_spread([r['words_per_s'] for r in rs])}")
    ratios = [r["ratio"] for r in runs if "ratio" in r]
    if ratios:
        print(f"  words/s ratio zoo/gensim (same run, per seed): {mean_spread(ratios)}")
        z = {k: statistics.mean(r[k] for r in runs if r["side"] == "zoo") for k in ("analogy_acc", "ws353_spearman", "simlex_spearman")}
        g = {k: statistics.mean(r[k] for r in runs if r["side"] == "gensim") for k in z}
        print("  zoo - gensim (means): " + ", ".join(f"{k} {z[k] - g[k]:+.4f}" for k in z))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: v for k, v in r.items() if k != "vocab"} for r in runs], f, indent=2)
    return 1 if any(r.get("diverged") for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
