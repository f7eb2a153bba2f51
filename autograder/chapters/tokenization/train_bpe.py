"""``tokenization.train_bpe`` (block 1): the BPE trainer; tie-break and counting mistakes."""

from __future__ import annotations

from autograder.chapters.tokenization._common import SEED_WORDS, _rng, _shakespeare_words
from autograder.checks.spec import Case, Step, register_pair
from course.tokenization import bpe


def _train_with(count_pairs, choose):
    def train(word_counts, num_merges):
        words = {tuple(w): n for w, n in word_counts.items() if n > 0}
        merges = []
        for _ in range(num_merges):
            counts = count_pairs(words)
            if not counts:
                break
            best = choose(counts)
            merges.append(best)
            merged: dict = {}
            for w, n in words.items():
                k = bpe.merge_word(w, best, best[0] + best[1])
                merged[k] = merged.get(k, 0) + n
            words = merged
        return merges

    return train


def _counts_ordered(words):  # insertion order = order of first occurrence
    counts: dict = {}
    for w, n in words.items():
        for p in zip(w, w[1:]):
            counts[p] = counts.get(p, 0) + n
    return counts


def _counts_ignoring_weights(words):
    return _counts_ordered({w: 1 for w in words})


def _counts_once_per_word(words):
    counts: dict = {}
    for w, n in words.items():
        for p in dict.fromkeys(zip(w, w[1:])):
            counts[p] = counts.get(p, 0) + n
    return counts


def _smallest(counts):
    return min(counts, key=lambda p: (-counts[p], p))


MISTAKES = {
    "ties broken by first occurrence (the pair counted first) instead of the smallest pair": (
        _train_with(_counts_ordered, lambda c: max(c, key=c.get))
    ),
    "ties broken by the largest pair instead of the smallest": _train_with(
        _counts_ordered, lambda c: max(c, key=lambda p: (c[p], p))
    ),
    "pairs counted once per distinct word, ignoring the word counts": _train_with(
        _counts_ignoring_weights, _smallest
    ),
    'a pair that occurs several times in a word counted once ("aaa" holds (a, a) twice)': (
        _train_with(_counts_once_per_word, _smallest)
    ),
}


def _train_cases(gen, device):
    rng = _rng(gen)
    fixed = [
        ("the lecture notes' four words: a tie at the first step", SEED_WORDS, 10),
        ("a tie between (b, a) and (a, b)", {"ba": 1, "ab": 1}, 3),
        ("word counts weight the pairs", {"xy": 1, "yz": 5, "xyxy": 1}, 4),
        ('overlapping pairs: "aaa" holds (a, a) twice', {"aaa": 2, "ab": 3}, 3),
        ("an empty word and one-character words", {"": 3, "a": 2, "ab": 1}, 5),
        ("num_merges = 0", {"abc": 2}, 0),
        ("more merges asked than possible", {"abcd": 1, "bc": 2}, 20),
        ("emoji, accents and Chinese", {"中文中文": 2, "🤗🤗a": 1, "éé": 3, "e\u0301": 2}, 8),
        ("repeated symbols", {"aaaa": 3, "aaab": 2, "abab": 2}, 8),
    ]
    for label, words, k in fixed:
        yield Case(label, [Step((words, k))])
    for _ in range(5):
        alphabet = rng.choice(["ab", "abc", "abcd", "aé中"])
        words = {
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))): rng.randint(1, 4)
            for _ in range(rng.randint(2, 15))
        }
        yield Case(f"random words over {alphabet!r} (many ties), 30 merges", [Step((words, 30))])
    words = _shakespeare_words(rng, 200)
    yield Case("the 200 most frequent words of a play, 60 merges", [Step((words, 60))])


register_pair(
    name="tokenization.train_bpe",
    target="train_bpe",
    reference=bpe.train_bpe,
    cases=_train_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
