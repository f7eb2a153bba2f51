"""``tokenization.byte_encode`` and ``tokenization.byte_decode`` (block 3): byte-level BPE,
round trips and characters split across tokens, on the reference's byte merges."""

from __future__ import annotations

import functools
import random
from collections import Counter

from autograder.chapters.tokenization._common import _as_lists, _excerpt, _random_unicode, _rng
from autograder.checks.spec import Case, Step, register_pair
from course.tokenization import bpe, corpora, gpt2


@functools.cache
def byte_merges() -> list[list[int]]:
    """250 byte-level merges learned on 200 kB of Shakespeare plus the Chinese sample."""
    text = corpora.shakespeare_plays()["othello"][:200_000] + corpora.chinese_text()
    counts = Counter(p.encode("utf-8") for p in gpt2.pretokenize(text))
    return _as_lists(bpe.train_byte_bpe(counts, 250))


def _byte_encode_chars(text, merges):
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    ids = [ord(c) for c in text]
    while len(ids) > 1:
        best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        ids = list(bpe.merge_word(ids, best, 256 + ranks[best]))
    return ids


def _byte_encode_leftmost(text, merges):
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    ids = list(text.encode("utf-8"))
    while True:
        for i in range(len(ids) - 1):
            r = ranks.get((ids[i], ids[i + 1]))
            if r is not None:
                ids[i : i + 2] = [256 + r]
                break
        else:
            return ids


ENCODE_MISTAKES = {
    "code points (ord) instead of UTF-8 bytes": _byte_encode_chars,
    "merging the leftmost pair that is a merge instead of the pair of lowest rank": (
        _byte_encode_leftmost
    ),
}


def _byte_decode_per_token(ids, merges):
    vocab = bpe.byte_vocab([tuple(m) for m in merges])
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


def _byte_decode_ignore(ids, merges):
    vocab = bpe.byte_vocab([tuple(m) for m in merges])
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="ignore")


DECODE_MISTAKES = {
    "each token decoded to str on its own (a character split across tokens breaks)": (
        _byte_decode_per_token
    ),
    'errors="ignore" instead of errors="replace" (incomplete characters vanish)': (
        _byte_decode_ignore
    ),
}


def _byte_texts(rng: random.Random) -> list[tuple[str, str]]:
    line = rng.choice(corpora.shakespeare_plays()["hamlet"].splitlines()[100:3000:7])
    out = [
        ("Shakespeare: " + _excerpt(line), line[:120]),
        ("ASCII with merges", "the king and the queen"),
        ("Chinese", "我喜歡看電影和讀書。"),
        ("emoji with a skin tone and ZWJ", "🤗👍🏽 👩\u200d💻"),
        ("a combining accent", "cafe\u0301 naïve"),
        ("the empty string", ""),
        ("whitespace only", " \n\t  "),
    ]
    for i in range(4):
        s = _random_unicode(rng, rng.randint(5, 30))
        out.append((f"random Unicode {i}: " + _excerpt(s), s))
    return out


def _byte_encode_cases(gen, device):
    rng = _rng(gen)
    merges = byte_merges()
    texts = _byte_texts(rng)
    # Chinese first: the ord() mistake is recognised there; then a case that needs ranks.
    order = [2, 1, 0, 3, 4, 5, 6] + list(range(7, len(texts)))
    for i in order:
        label, s = texts[i]
        yield Case(label, [Step((s, merges))])


def _byte_decode_cases(gen, device):
    rng = _rng(gen)
    merges = byte_merges()
    vocab = bpe.byte_vocab([tuple(m) for m in merges])
    chinese = bpe.byte_encode("我喜歡看電影和讀書。", merges)
    yield Case("ids of a whole Chinese sentence", [Step((chinese, merges))])
    raw = "我".encode()
    yield Case(
        "the first two bytes of 我 (an incomplete character)", [Step((list(raw[:2]), merges))]
    )
    yield Case(
        "a lone continuation byte 0x80 and the byte 0xff", [Step(([0x80, 0x41, 0xFF], merges))]
    )
    partial = [i for i in range(256, len(vocab)) if _broken(vocab[i])][:5]
    yield Case("merged tokens that hold parts of characters", [Step((partial, merges))])
    yield Case("no ids", [Step(([], merges))])
    for label, s in _byte_texts(rng):
        ids = bpe.byte_encode(s, merges)
        yield Case("round trip: " + label, [Step((ids, merges))])
        if len(ids) > 2:
            k = rng.randint(1, len(ids) - 1)
            yield Case(f"the first {k} ids of: " + label, [Step((ids[:k], merges))])


def _broken(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


register_pair(
    name="tokenization.byte_encode",
    target="byte_encode",
    reference=bpe.byte_encode,
    cases=_byte_encode_cases,
    visible_cases=3,
    misconceptions=ENCODE_MISTAKES,
)
register_pair(
    name="tokenization.byte_decode",
    target="byte_decode",
    reference=bpe.byte_decode,
    cases=_byte_decode_cases,
    visible_cases=3,
    misconceptions=DECODE_MISTAKES,
)
