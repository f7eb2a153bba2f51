"""WordPiece's merge score against BPE's pair count, and Unigram (Kudo 2018) next to both, trained
on the chapter's corpus: 37 Shakespeare plays (Hamlet held out), BERT's uncased normalisation and
pre-tokenisation (the pages' `wordpiece.bert_pretokenize`, here through `tokenizers`' identical
BertNormalizer + BertPreTokenizer, which is much faster).

Trainers, all on the same word counts, each up to the same vocabulary sizes:

* ``BPE``: the course's `bpe.train_bpe_fast` on characters (vocabulary = alphabet + merges);
* ``WordPiece, count``: merges of the most frequent pair of units, where a unit that does not start
  a word carries the prefix ``##`` (what `tokenizers`' WordPieceTrainer does: it runs its BPE
  trainer with ``continuing_subword_prefix="##"``);
* ``WordPiece, score``: merges of the pair with the highest count(ab) / (count(a) count(b)), the
  score of Hugging Face's course;
* ``WordPiece, likelihood``: merges of the pair whose merge most increases the training data's
  log-likelihood under a unigram model of the units (maximum-likelihood probabilities), computed
  exactly;
* ``WordPiece (tokenizers)``: `tokenizers`' own WordPieceTrainer;
* ``Unigram (tokenizers)``: `tokenizers`' UnigramTrainer, one training per vocabulary size.

The WordPiece vocabularies encode with greedy longest-match-first (`wordpiece.wordpiece_word`), BPE
by applying its merges (`bpe.bpe_encode`), Unigram by Viterbi (`tokenizers`). Measured: tokens
per pre-tokenised word on Hamlet (held out). Saved: the first merges of each trainer and the
vocabularies at ``SHOW`` entries, for the page's examples.

Run: .venv/bin/python experiments/tokenization_wordpiece.py   (about 1.5 minutes on one CPU core)
Writes book/_static/tokenization_wordpiece.json, which book/04-tokenization/wordpiece.md reads.
Deterministic: ties are broken by the smallest pair.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections import Counter, defaultdict
from functools import partial
from pathlib import Path

import numpy as np
import tokenizers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from course.tokenization import bpe, corpora, wordpiece

OUT = Path(__file__).resolve().parents[1] / "book" / "_static" / "tokenization_wordpiece.json"
HELD_OUT = "hamlet"
SIZES = [500, 1000, 2000, 4000]
SHOW = 2000  # vocabularies saved for the page's examples
FIRST = 15  # first merges saved


def bert_words(text: str) -> list[str]:
    norm = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    return [w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text))]


def xlogx(x: float) -> float:
    return x * math.log(x) if x > 0 else 0.0


def likelihood_gain(c_ab: int, c_a: int, c_b: int, total: int, same: bool) -> float:
    """Exact change of sum_u c(u) log(c(u) / N) when the c_ab pairs (a, b) become one unit."""
    if same:  # (x, x): each merge removes two x
        units = xlogx(c_a - 2 * c_ab) - xlogx(c_a)
    else:
        units = xlogx(c_a - c_ab) - xlogx(c_a) + xlogx(c_b - c_ab) - xlogx(c_b)
    return xlogx(c_ab) + units - (xlogx(total - c_ab) - xlogx(total))


def nxlogx(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x * np.log(np.maximum(x, 1)), 0.0)


def best_by_likelihood(pairs: Counter, units: Counter, total: int) -> tuple:
    """The pair of largest `likelihood_gain`, ties to the smallest pair, vectorised over pairs."""
    keys = list(pairs)
    c = np.fromiter(pairs.values(), float, len(keys))
    ca = np.fromiter((units[a] for a, _ in keys), float, len(keys))
    cb = np.fromiter((units[b] for _, b in keys), float, len(keys))
    same = np.fromiter((a == b for a, b in keys), bool, len(keys))
    unit_terms = np.where(
        same,
        nxlogx(ca - 2 * c) - nxlogx(ca),
        nxlogx(ca - c) - nxlogx(ca) + nxlogx(cb - c) - nxlogx(cb),
    )
    gain = nxlogx(c) + unit_terms - (nxlogx(total - c) - xlogx(total))
    top = np.flatnonzero(gain >= gain.max() - 1e-9 * abs(gain.max()))
    return min(keys[i] for i in top)


def split(word: str) -> list[str]:
    return [word[0]] + ["##" + c for c in word[1:]]


def train_wordpiece(word_counts: dict[str, int], vocab_size: int, rule: str):
    """Merges (a, b) in order and the vocabulary after each merge, for rule 'score' or 'likelihood'.

    Incremental: pair and unit counts are updated only in the words that hold the merged pair; the
    best pair is found by scanning all current pairs (the score of a pair changes whenever the
    count of one of its units does, so a heap would need constant repair).
    """
    words = [split(w) for w in word_counts]
    freq = list(word_counts.values())
    units: Counter = Counter()
    pairs: Counter = Counter()
    where: dict[tuple, set[int]] = defaultdict(set)
    for i, (w, n) in enumerate(zip(words, freq)):
        for u in w:
            units[u] += n
        for p in zip(w, w[1:]):
            pairs[p] += n
            where[p].add(i)
    total = sum(units.values())
    vocab = list(dict.fromkeys(sorted(units)))
    seen = set(vocab)
    merges = []
    while len(vocab) < vocab_size and pairs:
        if rule == "score":
            best = min(pairs, key=lambda p: (-pairs[p] / (units[p[0]] * units[p[1]]), p))
        else:
            best = best_by_likelihood(pairs, units, total)
        a, b = best
        new = a + b[2:]
        merges.append(best)
        if new not in seen:
            seen.add(new)
            vocab.append(new)
        for i in where.pop(best, ()):
            w, n = words[i], freq[i]
            old = list(zip(w, w[1:]))
            if best not in old:
                continue
            for u in w:
                units[u] -= n
            for p in old:
                pairs[p] -= n
                if pairs[p] == 0:
                    del pairs[p]
            w = list(bpe.merge_word(w, best, new))
            words[i] = w
            for u in w:
                units[u] += n
            for p in zip(w, w[1:]):
                pairs[p] += n
                where[p].add(i)
        total = sum(c for c in units.values())
    return merges, vocab


def train_wordpiece_count(word_counts: dict[str, int], vocab_size: int):
    """Count-based merges of ##-units (the rule of tokenizers' WordPieceTrainer), via the course's
    incremental BPE machinery."""
    words = {tuple(split(w)): n for w, n in word_counts.items()}
    alphabet = sorted({u for w in words for u in w})
    merges = bpe._train_incremental(words, 3 * vocab_size, lambda p, r: p[0] + p[1][2:])
    vocab, seen = list(alphabet), set(alphabet)
    kept = []
    for a, b in merges:
        if len(vocab) >= vocab_size:
            break
        kept.append((a, b))
        if a + b[2:] not in seen:
            seen.add(a + b[2:])
            vocab.append(a + b[2:])
    return kept, vocab


def hf_pipeline(model) -> Tokenizer:
    tok = Tokenizer(model)
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def hf_tokens(tok: Tokenizer, word: str) -> list[str]:
    return tok.encode(word, add_special_tokens=False).tokens


def main() -> None:
    start = time.perf_counter()
    train = corpora.shakespeare_text(exclude=(HELD_OUT,))
    counts = dict(sorted(Counter(bert_words(train)).items()))
    held = bert_words(corpora.shakespeare_plays()[HELD_OUT])
    held_counts = Counter(held)
    alphabet = sorted({c for w in counts for c in w})
    result: dict = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"tokenizers {tokenizers.__version__}",
        "train_words": sum(counts.values()),
        "train_distinct_words": len(counts),
        "held_out_words": len(held),
        "held_out_distinct_words": len(held_counts),
        "held_out_unseen_words": sum(n for w, n in held_counts.items() if w not in counts),
        "alphabet": len(alphabet),
        "sizes": SIZES,
        "show": SHOW,
        "tokens_per_word": {},
        "first_merges": {},
        "vocab": {},
        "train_seconds": {},
    }

    def per_word(encode) -> float:
        return sum(n * len(encode(w)) for w, n in held_counts.items()) / len(held)

    # BPE on characters: vocabulary = alphabet + merges
    t0 = time.perf_counter()
    merges = bpe.train_bpe_fast(counts, max(SIZES) - len(alphabet))
    result["train_seconds"]["BPE"] = time.perf_counter() - t0
    result["first_merges"]["BPE"] = merges[:FIRST]
    result["tokens_per_word"]["BPE"] = [
        per_word(partial(bpe.bpe_encode, merges=merges[: v - len(alphabet)])) for v in SIZES
    ]
    result["vocab"]["BPE merges"] = merges[: SHOW - len(alphabet)]

    # WordPiece variants: vocabulary prefix of the largest one
    for name, trainer in [
        ("WordPiece, count", lambda v: train_wordpiece_count(counts, v)),
        ("WordPiece, score", lambda v: train_wordpiece(counts, v, "score")),
        ("WordPiece, likelihood", lambda v: train_wordpiece(counts, v, "likelihood")),
    ]:
        t0 = time.perf_counter()
        merges, vocab = trainer(max(SIZES))
        result["train_seconds"][name] = time.perf_counter() - t0
        result["first_merges"][name] = merges[:FIRST]
        result["tokens_per_word"][name] = [
            per_word(lambda w, s=frozenset(vocab[:v]): wordpiece.wordpiece_word(w, s))
            for v in SIZES
        ]
        result["vocab"][name] = vocab[:SHOW]
        print(f"{name}: {result['train_seconds'][name]:.1f} s", flush=True)

    # tokenizers' trainers, one training per size
    text = [train]
    for name in ["WordPiece (tokenizers)", "Unigram (tokenizers)"]:
        result["tokens_per_word"][name] = []
        t0 = time.perf_counter()
        for v in SIZES:
            if name.startswith("WordPiece"):
                tok = hf_pipeline(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
                trainer = trainers.WordPieceTrainer(
                    vocab_size=v, special_tokens=["[UNK]"], show_progress=False
                )
            else:
                tok = hf_pipeline(models.Unigram())
                trainer = trainers.UnigramTrainer(
                    vocab_size=v, special_tokens=["[UNK]"], unk_token="[UNK]", show_progress=False
                )
            tok.train_from_iterator(text, trainer)
            model = json.loads(tok.to_str())["model"]
            result["tokens_per_word"][name].append(per_word(partial(hf_tokens, tok)))
            if v == SHOW and name.startswith("Unigram"):
                result["vocab"]["Unigram"] = model["vocab"]
                result["vocab"]["Unigram unk_id"] = model["unk_id"]
            result[f"vocab_size_{name}_{v}"] = tok.get_vocab_size()
        result["train_seconds"][name] = time.perf_counter() - t0

    result["seconds"] = time.perf_counter() - start
    result["command"] = "python experiments/tokenization_wordpiece.py"
    OUT.write_text(json.dumps(result, ensure_ascii=False) + "\n")
    for name, row in result["tokens_per_word"].items():
        print(f"{name:24s}", " ".join(f"{x:.3f}" for x in row))
    print(f"{result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
