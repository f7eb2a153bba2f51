"""Byte-pair encoding: trainers (naive and incremental) and encoders, on characters or bytes.

A *word* is a tuple of symbols (``str`` characters, or ``int`` byte ids 0..255); a corpus is a
mapping word -> count. A merge is a pair of adjacent symbols ``(left, right)``; merges are returned
in the order they were learned (index = rank).

Counting rule: every adjacent position counts, so "aaa" holds the pair ("a", "a") twice.
Tie-break rule (the course's contract): among pairs with the highest count, take the *smallest*
pair in Python's tuple order, ``(left, right) < (left2, right2)``. For characters this is
code-point order of ``left``, then of ``right``; for byte ids it is id order (a merged token's id,
256 + its rank, is larger than every byte and every earlier merge). Merging replaces occurrences
left to right without overlap: merging ("a", "a") in "aaa" gives ["aa", "a"].

Hugging Face ``tokenizers``' BpeTrainer breaks ties by the *ids* of (left, right), where ids are the
alphabet sorted by code point followed by merged tokens in creation order; ``tie_break="hf"``
reproduces that rule (used by the oracle tests).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Literal

Symbol = Hashable
Pair = tuple
Word = tuple


# --------------------------------------------------------------------------- shared helpers
def pair_counts(words: Mapping[Word, int]) -> Counter:
    """Count adjacent pairs over ``words`` (word -> count), overlapping positions included."""
    counts: Counter = Counter()
    for word, n in words.items():
        for pair in zip(word, word[1:]):
            counts[pair] += n
    return counts


def merge_word(word: Sequence, pair: Pair, new: Symbol) -> tuple:
    """Replace each occurrence of ``pair`` in ``word`` (left to right, no overlap) by ``new``."""
    out = []
    i, n = 0, len(word)
    a, b = pair
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def _concat(pair: Pair, rank: int) -> Symbol:
    return pair[0] + pair[1]


# --------------------------------------------------------------------------- block 1: trainer
def train_bpe(word_counts: Mapping[str, int], num_merges: int) -> list[tuple[str, str]]:
    """The straightforward trainer (graded block 1): recount every pair after every merge.

    word_counts: word (str, may be empty) -> count (int >= 1). Symbols are the words' characters.
    Returns at most ``num_merges`` merges [(left, right), ...]; stops early when no pair is left.
    The merged symbol is ``left + right``. Ties: smallest (left, right) (see the module doc).
    Cost: O(num_merges * total symbols).
    """
    words = {tuple(w): n for w, n in word_counts.items() if n > 0}
    return [m for m in _train_naive(words, num_merges, _concat)]


def _train_naive(words: dict[Word, int], num_merges: int, new_symbol) -> list[Pair]:
    merges: list[Pair] = []
    for rank in range(num_merges):
        counts = pair_counts(words)
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        new = new_symbol(best, rank)
        merged: dict[Word, int] = defaultdict(int)
        for word, n in words.items():
            merged[merge_word(word, best, new)] += n
        words = merged
        merges.append(best)
    return merges


def _train_incremental(
    words_in: Mapping[Word, int], num_merges: int, new_symbol, key=None
) -> list[Pair]:
    """Same result as ``_train_naive`` (for the same ``key``), updating only the pairs a merge touches.

    Keeps pair -> count, pair -> set of word indices that may hold it, and a max-heap of
    (-count, key(pair)) with lazy deletion: a popped entry whose count is stale is pushed back
    with its current count. Per merge the work is proportional to the words that hold the pair.
    """
    key = key or (lambda p: p)
    words = [list(w) for w in words_in]
    counts_of = list(words_in.values())
    counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            counts[p] += counts_of[i]
            where[p].add(i)
    heap = [(-c, key(p), p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges: list[Pair] = []
    while len(merges) < num_merges and heap:
        neg, _, best = heapq.heappop(heap)
        current = counts.get(best, 0)
        if current <= 0:
            continue
        if -neg != current:
            heapq.heappush(heap, (-current, key(best), best))
            continue
        new = new_symbol(best, len(merges))
        merges.append(best)
        touched: set[Pair] = set()
        for i in where.pop(best, ()):
            w, n = words[i], counts_of[i]
            old_pairs = list(zip(w, w[1:]))
            if best not in old_pairs:
                continue
            for p in old_pairs:
                counts[p] -= n
            w = list(merge_word(w, best, new))
            words[i] = w
            for p in zip(w, w[1:]):
                counts[p] += n
                where[p].add(i)
                touched.add(p)
        counts.pop(best, None)
        for p in touched:  # counts that went up need a fresh heap entry; stale ones fix themselves
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], key(p), p))
    return merges


def train_bpe_fast(
    word_counts: Mapping[str, int],
    num_merges: int,
    tie_break: Literal["lexicographic", "hf"] = "lexicographic",
) -> list[tuple[str, str]]:
    """Incremental trainer with a priority queue; equal to :func:`train_bpe` for ``lexicographic``.

    ``tie_break="hf"`` breaks ties like Hugging Face tokenizers' BpeTrainer (ids: alphabet sorted by
    code point, then merged strings in creation order, a repeated string keeping its first id).
    """
    words = {tuple(w): n for w, n in word_counts.items() if n > 0}
    if tie_break == "lexicographic":
        return _train_incremental(words, num_merges, _concat)
    alphabet = sorted({c for w in words for c in w})
    ids = {c: i for i, c in enumerate(alphabet)}

    def new_symbol(pair: Pair, rank: int) -> str:
        s = pair[0] + pair[1]
        ids.setdefault(s, len(ids))
        return s

    return _train_incremental(words, num_merges, new_symbol, key=lambda p: (ids[p[0]], ids[p[1]]))


# --------------------------------------------------------------------------- block 2: encode
def bpe_encode(word: str, merges: Sequence[tuple[str, str]]) -> list[str]:
    """Encode one word (graded block 2): repeatedly merge the adjacent pair of *lowest rank*.

    word: str (may be empty -> []). merges: [(left, right), ...], rank = index. Characters that
    appear in no merge stay single characters (no unknown token). Returns the list of tokens;
    ``"".join(tokens) == word``.
    """
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    parts = list(word)
    while len(parts) > 1:
        best_rank, best_i = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get((parts[i], parts[i + 1]))
            if r is not None and (best_rank is None or r < best_rank):
                best_rank, best_i = r, i
        if best_rank is None:
            break
        pair = (parts[best_i], parts[best_i + 1])
        parts = list(merge_word(parts, pair, pair[0] + pair[1]))
    return parts


def bpe_decode(tokens: Sequence[str]) -> str:
    """Inverse of :func:`bpe_encode`: concatenate the tokens."""
    return "".join(tokens)


# --------------------------------------------------------------------------- block 3: byte level
def train_byte_bpe(word_counts: Mapping[bytes, int], num_merges: int) -> list[tuple[int, int]]:
    """Byte-level incremental trainer: words are ``bytes`` (e.g. GPT-2 pre-tokens in UTF-8).

    Returns merges [(a, b), ...] of token ids; merge r creates id 256 + r. Ties: smallest (a, b).
    """
    words = {tuple(w): n for w, n in word_counts.items() if n > 0 and w}
    return _train_incremental(words, num_merges, lambda pair, rank: 256 + rank)


def train_byte_bpe_naive(
    word_counts: Mapping[bytes, int], num_merges: int
) -> list[tuple[int, int]]:
    """Same contract as :func:`train_byte_bpe`, recounting every pair after every merge (baseline)."""
    words = {tuple(w): n for w, n in word_counts.items() if n > 0 and w}
    return _train_naive(words, num_merges, lambda pair, rank: 256 + rank)


def byte_vocab(merges: Sequence[tuple[int, int]]) -> list[bytes]:
    """id -> bytes for ids 0 .. 255 + len(merges)."""
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return vocab


def byte_encode(text: str, merges: Sequence[tuple[int, int]]) -> list[int]:
    """Encode ``text`` (graded block 3): its UTF-8 bytes as ids 0..255, then merges by lowest rank.

    merges: [(a, b), ...] with merge r creating id 256 + r. No pre-tokenisation. "" -> [].
    """
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    ids = list(text.encode("utf-8"))
    while len(ids) > 1:
        pairs = {(a, b) for a, b in zip(ids, ids[1:])}
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        ids = list(merge_word(ids, best, 256 + ranks[best]))
    return ids


def byte_decode(ids: Iterable[int], merges: Sequence[tuple[int, int]]) -> str:
    """Concatenate the tokens' *bytes*, then decode UTF-8 once with ``errors="replace"``.

    Decoding token by token would break characters whose bytes span two tokens.
    """
    vocab = byte_vocab(merges)
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def encode_with_cache(pieces: Iterable[bytes], merges: Sequence[tuple[int, int]]) -> list[int]:
    """Encode pre-tokens (bytes) with a per-piece cache; for measurements on large corpora."""
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    cache: dict[bytes, list[int]] = {}
    out: list[int] = []
    for piece in pieces:
        ids = cache.get(piece)
        if ids is None:
            ids = list(piece)
            while len(ids) > 1:
                best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, 1 << 62))
                r = ranks.get(best)
                if r is None:
                    break
                ids = list(merge_word(ids, best, 256 + r))
            cache[piece] = ids
        out.extend(ids)
    return out
