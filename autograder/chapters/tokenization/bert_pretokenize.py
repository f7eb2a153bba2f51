"""``tokenization.bert_pretokenize`` (block 7): BERT's normaliser and pre-tokeniser."""

from __future__ import annotations

import unicodedata

from autograder.chapters.tokenization._common import MAX_ITEMS, _excerpt, _held_texts, _rng
from autograder.checks.spec import Case, Step, register_pair
from course.tokenization import wordpiece


def _normalize_no_strip(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\x00" or ch == "\ufffd" or wordpiece.is_control(ch):
            continue
        if wordpiece.is_whitespace(ch):
            out.append(" ")
        elif wordpiece.is_cjk(ch):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    return _lower_each("".join(out))


def _lower_each(text: str) -> str:
    """Lower-case character by character, as BERT does (``str.lower`` on a whole string turns a
    final capital sigma into ς): each mistake below differs from the reference in its own way
    only, so that it is named only for that way."""
    return "".join(ch.lower() for ch in text)


def _pretokenize_with(normalize, text, split_punct=True):
    words, cur = [], []
    for ch in normalize(text):
        if wordpiece.is_whitespace(ch) or (split_punct and wordpiece.is_punctuation(ch)):
            if cur:
                words.append("".join(cur))
                cur = []
            if not wordpiece.is_whitespace(ch):
                words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def _bert_no_punct_split(text):
    return _pretokenize_with(wordpiece.normalize, text, split_punct=False)


def _bert_no_cjk(text):
    def normalize(t):
        t = "".join(
            " " if wordpiece.is_whitespace(c) else c
            for c in t
            if not (c in "\x00\ufffd" or wordpiece.is_control(c))
        )
        t = unicodedata.normalize("NFD", t)
        return _lower_each("".join(c for c in t if unicodedata.category(c) != "Mn"))

    return _pretokenize_with(normalize, text)


MISTAKES = {
    "accents kept (strip them: NFD, then drop category Mn)": lambda t: _pretokenize_with(
        _normalize_no_strip, t
    ),
    "punctuation left attached to words": _bert_no_punct_split,
    "CJK ideographs not split into one word each": _bert_no_cjk,
}


def _bert_cases(gen, device):
    rng = _rng(gen)
    yield Case("accents: 'Naïve Café'", [Step(("Naïve Café RÉSUMÉ",))])
    yield Case("punctuation: 'Hello, world!'", [Step(("Hello, world! $3.50 (yes)",))])
    yield Case("Chinese characters", [Step(("我喜歡看電影 and 讀書",))])
    yield Case("capital Greek with a final sigma", [Step(("ΟΔΟΣ Ωμέγα ΣΟΦΙΑ",))])
    yield Case(
        "control characters, NUL, U+FFFD and unusual whitespace",
        [Step(("a\x00b\ufffdc\x07d\u00a0e\u3000f\tg\r\nh\u2028i\u200bj",))],
    )
    yield Case("the empty string and only spaces", [Step(("",)), Step(("  \t\n ",))])
    for label, text in _held_texts(rng):
        words = wordpiece.bert_pretokenize(text)
        if len(words) > MAX_ITEMS:
            text = text[: len(text) * MAX_ITEMS // (2 * len(words))]
        yield Case(f"{label}: {_excerpt(text)}", [Step((text,))])


register_pair(
    name="tokenization.bert_pretokenize",
    target="bert_pretokenize",
    reference=wordpiece.bert_pretokenize,
    cases=_bert_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
