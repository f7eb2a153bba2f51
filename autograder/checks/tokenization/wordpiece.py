"""``tokenization.wordpiece`` (block 6): greedy longest-match-first WordPiece on the reference's
BERT words, with the relevant part of BERT's vocabulary passed as a list."""

from __future__ import annotations

from autograder.checks.spec import Case, Step
from autograder.checks.tokenization._common import (
    MAX_ITEMS,
    _held_texts,
    _rng,
    register_pair,
)
from course.tokenization import wordpiece


def _wp_shortest(word, vocab):
    vocab = set(vocab)
    if len(word) > wordpiece.MAX_CHARS:
        return [wordpiece.UNK]
    start, pieces = 0, []
    while start < len(word):
        for end in range(start + 1, len(word) + 1):
            sub = ("##" if start else "") + word[start:end]
            if sub in vocab:
                break
        else:
            return [wordpiece.UNK]
        pieces.append(sub)
        start = end
    return pieces


def _wp_no_prefix(word, vocab):
    vocab = set(vocab)
    if len(word) > wordpiece.MAX_CHARS:
        return [wordpiece.UNK]
    start, pieces = 0, []
    while start < len(word):
        for end in range(len(word), start, -1):
            if word[start:end] in vocab:
                break
        else:
            return [wordpiece.UNK]
        pieces.append(word[start:end])
        start = end
    return pieces


def _wp_partial_unk(word, vocab):
    vocab = set(vocab)
    if len(word) > wordpiece.MAX_CHARS:
        return [wordpiece.UNK]
    start, pieces = 0, []
    while start < len(word):
        for end in range(len(word), start, -1):
            sub = ("##" if start else "") + word[start:end]
            if sub in vocab:
                pieces.append(sub)
                break
        else:
            pieces.append(wordpiece.UNK)
            end = start + 1
        start = end
    return pieces


def _wp_no_limit(word, vocab):
    vocab = set(vocab)
    out = []
    start = 0
    while start < len(word):
        for end in range(len(word), start, -1):
            sub = ("##" if start else "") + word[start:end]
            if sub in vocab:
                out.append(sub)
                break
        else:
            return [wordpiece.UNK]
        start = end
    return out


MISTAKES = {
    "the shortest match at each step instead of the longest": _wp_shortest,
    "continuations looked up without the ## prefix": _wp_no_prefix,
    "only the unmatched part becomes [UNK] (the rule: the whole word)": _wp_partial_unk,
    "words longer than 100 characters not mapped to [UNK]": _wp_no_limit,
}


def _vocab_for(words: list[str]) -> list[str]:
    return sorted(wordpiece.relevant_vocab(words))


def _word_case(label: str, words: list[str]) -> Case | None:
    vocab = _vocab_for(words)
    if len(vocab) > MAX_ITEMS:
        return None
    return Case(label, [Step((w, vocab)) for w in words])


def _wordpiece_cases(gen, device):
    rng = _rng(gen)
    yield _word_case("'unaffable' with BERT's vocabulary", ["unaffable"])
    yield _word_case("'x☃y': no piece for ☃", ["x☃y", "hamlet"])
    long = "a" * 101
    yield Case(
        "a word of 101 characters", [Step((long, ["a", "##a", "aa", "##aa", wordpiece.UNK]))]
    )
    yield Case("a word of exactly 100 characters", [Step(("a" * 100, ["a", "##a", wordpiece.UNK]))])
    yield _word_case("one-character words and punctuation", ["a", ",", "我", "☃", "##"])
    yield _word_case("a word that starts with ## in the text", ["##ization", "tokenization"])
    for label, text in _held_texts(rng):
        words = wordpiece.bert_pretokenize(text)
        rng.shuffle(words)
        chunk: list[str] = []
        for w in words[:60]:
            if len(_vocab_for(chunk + [w])) > MAX_ITEMS:
                break
            chunk.append(w)
        if chunk:
            yield _word_case(f"words of {label}", chunk)


def _wordpiece_cases_clean(gen, device):
    return [c for c in _wordpiece_cases(gen, device) if c is not None]


register_pair("wordpiece", "wordpiece", wordpiece.wordpiece_word, _wordpiece_cases_clean, MISTAKES)
