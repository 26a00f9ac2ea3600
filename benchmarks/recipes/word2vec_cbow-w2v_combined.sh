#!/bin/sh
# CBOW with negative sampling on the combined corpus (mean of the context, word2vec -cbow 1).
# Corpus: WikiText-2 valid+test + spa-eng English + Tiny Shakespeare, 1,345,604 words, min_count 5.
# 100-d vectors, window 5 (dynamic), 5 negatives (unigram^0.75) shared by 64 examples,
# subsampling 1e-3; SGD lr 0.025 decayed linearly to 1e-4 (gensim's default for CBOW too),
# 4,096 examples (centre words) per step, 20 epochs, final vectors kept.
# Against gensim: python benchmarks/word2vec_vs_gensim.py --model word2vec_cbow --data w2v_combined
# Evidence (seeds 0, 1; this recipe's settings; zoobench | gensim 4.4.0 cbow_mean=1, 1 thread each):
#   analogy acc 0.179 +- 0.002 | 0.180 +- 0.006   WordSim-353 0.435 +- 0.006 | 0.373 +- 0.034
#   SimLex-999  0.101 +- 0.001 | 0.098 +- 0.003
#   words/s ratio per seed 0.72 and 0.33 in those runs (the second gensim run had a quieter machine:
#   212k vs 98k words/s for the same work). After gathering only real context words (not the padded
#   window), 3-epoch speed runs, seeds 0-3, load ~2-3: ratio 0.72 +- 0.14 (0.59-0.90), zoobench
#   268k +- 43k words/s, gensim 389k +- 125k (CBOW is gensim's fastest path: one update per centre).
exec zoo train word2vec_cbow --data w2v_combined --batch-size 4096 --max-epochs 20 \
  --optimizer sgd --lr 0.025 --schedule linear --min-lr 1e-4 --restore-best false --threads 1 \
  --seed 0 "$@"
