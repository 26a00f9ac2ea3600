#!/bin/sh
# Skip-gram with negative sampling on the combined corpus (issue 3's bar: analogy accuracy and
# WordSim-353 Spearman within 0.02 of gensim's Word2Vec or better, same corpus and settings).
# Corpus: WikiText-2 valid+test + spa-eng English + Tiny Shakespeare, 1,345,604 words, min_count 5.
# 100-d vectors, window 5 (dynamic), 5 negatives (unigram^0.75) shared by 64 examples,
# subsampling 1e-3; SGD lr 0.025 decayed linearly to 1e-4 (word2vec's), 4,096 examples per step,
# 20 epochs, final vectors kept. Scores: test_analogy_acc (30,000 most frequent words),
# test_ws353_spearman, test_simlex_spearman.
# Against gensim (same corpus, vocabulary, sizes, epochs; words/s ratio in the same run):
#   python benchmarks/word2vec_vs_gensim.py --data w2v_combined --epochs 20 --seeds 0 1 2 --threads 1
# Evidence: EVIDENCE
exec zoo train word2vec_sgns --data w2v_combined --batch-size 4096 --max-epochs 20 \
  --optimizer sgd --lr 0.025 --schedule linear --min-lr 1e-4 --restore-best false --threads 1 \
  --seed 0 "$@"
