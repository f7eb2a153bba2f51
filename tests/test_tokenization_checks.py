"""The tokenization checks beyond the registry's tests (tests/test_checks_registry.py: the
solution against every check, every named mistake under two class secrets): correct variants
written differently pass."""

from __future__ import annotations

import heapq

import pytest
import regex
from conftest import assert_crosses_the_sandbox, outcome

import autograder.chapters.tokenization as T
from autograder.checks.spec import REGISTRY
from course.tokenization import bpe, gpt2, wordpiece

REFERENCE = {
    "train_bpe": bpe.train_bpe,
    "bpe_encode": bpe.bpe_encode,
    "byte_encode": bpe.byte_encode,
    "byte_decode": bpe.byte_decode,
    "gpt2_pretokenize": gpt2.pretokenize,
    "gpt2_encode_pieces": T.gpt2_encode_pieces,
    "wordpiece": wordpiece.wordpiece_word,
    "bert_pretokenize": wordpiece.bert_pretokenize,
}
NAMES = sorted(n for n in REGISTRY if n.startswith("tokenization."))


def test_every_block_has_checks():
    blocks = {n.split(".")[1] for n in NAMES}
    assert blocks == set(REFERENCE)
    assert all(f"tokenization.{b}.visible" in REGISTRY for b in blocks)


# --- correct variants written differently ------------------------------------------------------
def train_heap(word_counts, num_merges):
    """Incremental trainer (priority queue): a different algorithm, the same merges."""
    return bpe.train_bpe_fast(word_counts, num_merges)


def encode_in_merge_order(word, merges):
    """Apply every merge in rank order to the whole word (equal for merges learned by training)."""
    parts = list(word)
    for a, b in merges:
        parts = list(bpe.merge_word(parts, (a, b), a + b))
    return parts


def byte_encode_heap(text, merges):
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    ids = list(text.encode("utf-8"))
    for r, (a, b) in enumerate(merges):  # merges in rank order, each applied everywhere
        ids = list(bpe.merge_word(ids, (a, b), 256 + r))
    assert all(p not in ranks for p in zip(ids, ids[1:]))
    return ids


def byte_decode_recursive(ids, merges):
    def expand(i):
        if i < 256:
            return bytes([i])
        a, b = merges[i - 256]
        return expand(a) + expand(b)

    return b"".join(expand(i) for i in ids).decode("utf-8", "replace")


def pretokenize_possessive(text):
    from tiktoken_ext.openai_public import r50k_pat_str

    return regex.findall(r50k_pat_str, text)


def encode_pieces_tiktoken(pieces):
    enc = gpt2.tiktoken_gpt2()
    return [i for p in pieces for i in enc.encode_ordinary(p)]


def encode_pieces_heap(pieces):
    """Merge by rank with a heap over adjacent pairs and a linked list of parts."""
    ranks = gpt2.gpt2_ranks()
    out = []
    for p in pieces:
        parts = [bytes([b]) for b in p.encode("utf-8")]
        while True:
            cands = [
                (ranks[parts[i] + parts[i + 1]], i)
                for i in range(len(parts) - 1)
                if parts[i] + parts[i + 1] in ranks
            ]
            if not cands:
                break
            _, i = heapq.nsmallest(1, cands)[0]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        out += [ranks[x] for x in parts]
    return out


def wordpiece_recursive(word, vocab, first=True):
    vocab = set(vocab)
    if len(word) > 100:
        return ["[UNK]"]
    if not word:
        return []
    for end in range(len(word), 0, -1):
        piece = word[:end] if first else "##" + word[:end]
        if piece in vocab:
            rest = wordpiece_recursive(word[end:], vocab, first=False)
            return ["[UNK]"] if rest == ["[UNK]"] else [piece, *rest]
    return ["[UNK]"]


def bert_pretokenize_hf(text):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(wordpiece.tokenizer_json_path())
    norm = tok.normalizer.normalize_str(text)
    return [w for w, _ in tok.pre_tokenizer.pre_tokenize_str(norm)]


ALTERNATIVES = [
    ("tokenization.train_bpe", train_heap),
    ("tokenization.bpe_encode", encode_in_merge_order),
    ("tokenization.byte_encode", byte_encode_heap),
    ("tokenization.byte_decode", byte_decode_recursive),
    ("tokenization.gpt2_pretokenize", pretokenize_possessive),
    ("tokenization.gpt2_encode_pieces", encode_pieces_tiktoken),
    ("tokenization.gpt2_encode_pieces", encode_pieces_heap),
    ("tokenization.wordpiece", wordpiece_recursive),
    ("tokenization.bert_pretokenize", bert_pretokenize_hf),
]


@pytest.mark.parametrize("name,fn", ALTERNATIVES, ids=[f.__name__ for _, f in ALTERNATIVES])
def test_correct_variant_passes(name, fn, secret):
    result = outcome(name, fn)
    assert result.passed, result.message


@pytest.mark.parametrize("name", NAMES)
def test_cases_and_answers_cross_the_sandbox(name, secret):
    """Every case and the reference's answer cross the sandbox's protocol unchanged."""
    assert_crosses_the_sandbox(name, secret)
