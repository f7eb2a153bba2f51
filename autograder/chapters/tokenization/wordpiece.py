"""``tokenization.wordpiece`` (block 6): greedy longest-match-first WordPiece on the reference's
BERT words, with the relevant part of BERT's vocabulary passed as a list."""

from __future__ import annotations

from autograder.chapters.tokenization._common import MAX_ITEMS, _held_texts, _rng
from autograder.checks.spec import Case, Step, register_pair
from course.tokenization import wordpiece


def _wordpiece_variant(
    word, vocab, *, shortest=False, prefix=True, partial_unk=False, limit=True
) -> list[str]:
    """Greedy WordPiece with one rule changed (each flag is a known mistake)."""
    vocab = set(vocab)
    if limit and len(word) > wordpiece.MAX_CHARS:
        return [wordpiece.UNK]
    start, pieces = 0, []
    while start < len(word):
        ends = range(start + 1, len(word) + 1) if shortest else range(len(word), start, -1)
        for end in ends:
            sub = ("##" if start and prefix else "") + word[start:end]
            if sub in vocab:
                pieces.append(sub)
                break
        else:
            if not partial_unk:
                return [wordpiece.UNK]
            pieces.append(wordpiece.UNK)
            end = start + 1
        start = end
    return pieces


def _variant(**rule):
    return lambda word, vocab: _wordpiece_variant(word, vocab, **rule)


MISTAKES = {
    "the shortest match at each step instead of the longest": _variant(shortest=True),
    "continuations looked up without the ## prefix": _variant(prefix=False),
    "only the unmatched part becomes [UNK] (the rule: the whole word)": _variant(partial_unk=True),
    "words longer than 100 characters not mapped to [UNK]": _variant(limit=False),
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


register_pair(
    name="tokenization.wordpiece",
    target="wordpiece",
    reference=wordpiece.wordpiece_word,
    cases=_wordpiece_cases_clean,
    visible_cases=3,
    misconceptions=MISTAKES,
)
