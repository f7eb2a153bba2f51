"""``tokenization.bpe_encode`` (block 2): encoding by merge rank, on the reference's merges."""

from __future__ import annotations

from autograder.chapters.tokenization._common import SEED_WORDS, _as_lists, _rng, _shakespeare_words
from autograder.checks.spec import Case, Step, register_pair
from course.tokenization import bpe, corpora


def _encode_leftmost(word, merges):
    known = {tuple(m) for m in merges}
    parts = list(word)
    while True:
        for i in range(len(parts) - 1):
            if (parts[i], parts[i + 1]) in known:
                parts[i : i + 2] = [parts[i] + parts[i + 1]]
                break
        else:
            return parts


def _encode_first_occurrence_only(word, merges):
    parts = list(word)
    for a, b in merges:
        for i in range(len(parts) - 1):
            if parts[i] == a and parts[i + 1] == b:
                parts[i : i + 2] = [a + b]
                break
    return parts


MISTAKES = {
    "merging the leftmost pair that is a merge instead of the pair of lowest rank": (
        _encode_leftmost
    ),
    "merging only the first occurrence of each pair": _encode_first_occurrence_only,
}


def _encode_cases(gen, device):
    rng = _rng(gen)
    seed = _as_lists(bpe.train_bpe(SEED_WORDS, 10))
    yield Case("'abcde' with the notes' merges: rank, not position", [Step(("abcde", seed))])
    yield Case("'bcbc': a pair that occurs twice", [Step(("bcbc", seed))])
    yield Case("the empty word", [Step(("", seed))])
    yield Case("characters that are in no merge", [Step(("xbcdy🤗", seed))])
    words = _shakespeare_words(rng, 250)
    merges = _as_lists(bpe.train_bpe(words, 150))
    test = [w for w in corpora.shakespeare_plays()["macbeth"].split() if len(w) > 3]
    sample = rng.sample(test, 30) + ["Ophelia's", "unaffable", "supercalifragilistic"]
    yield Case(
        "30 words of Macbeth with 150 merges learned on another play",
        [Step((w, merges)) for w in sample],
    )
    alphabet = "abcd"
    corpus = {
        "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))): rng.randint(1, 5)
        for _ in range(15)
    }
    merges = _as_lists(bpe.train_bpe(corpus, 25))
    yield Case(
        "random words over 'abcd' with 25 merges",
        [Step(("".join(rng.choice(alphabet) for _ in range(12)), merges)) for _ in range(10)],
    )


register_pair(
    name="tokenization.bpe_encode",
    target="bpe_encode",
    reference=bpe.bpe_encode,
    cases=_encode_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
