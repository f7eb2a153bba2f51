"""Helpers shared by the tokenization checks: seeded RNG and text samples."""

from __future__ import annotations

import random
from collections import Counter

import torch

from course.tokenization import corpora

MAX_ITEMS = 256


def _rng(gen: torch.Generator) -> random.Random:
    return random.Random(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))


def _as_lists(merges) -> list[list]:
    return [list(m) for m in merges]


def _excerpt(text: str, n: int = 40) -> str:
    s = text[:n].replace("\n", "\\n")
    return repr(s + ("..." if len(text) > n else ""))


def _random_unicode(rng: random.Random, n: int) -> str:
    pools = [
        "abc xyz ",
        "  \n\t",
        "éüñ\u0301\u0308",
        "中文分詞我喜歡看電影",
        "🤗🙂👍🏽\u200d",
        "'s're!?.,;:-()",
        "0123456789",
        "\u00a0\u3000",
        "Ωσς Привет مرحبا नमस्ते 한국어",
    ]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


SEED_WORDS = {"ab": 1, "bc": 1, "bcd": 1, "cde": 1}


def _shakespeare_words(rng: random.Random, n: int) -> dict[str, int]:
    plays = corpora.shakespeare_plays()
    text = plays[rng.choice(sorted(plays))]
    return dict(Counter(text.split()).most_common(n))


def _held_texts(rng: random.Random) -> list[tuple[str, str]]:
    plays = corpora.shakespeare_plays()
    play = plays[rng.choice(sorted(plays))]
    start = rng.randrange(0, len(play) - 1000)
    code = corpora.code_text()
    cstart = rng.randrange(0, len(code) - 600)
    return [
        ("whitespace runs", "a  b   c\n\n\n  d\t\t e \n \n   x  "),
        ("contractions in both cases", "I'm, you're; IT'S HE'LL they've 'tis we'd Don't"),
        ("numbers", "In 1601, 3.14159 and 1,000,000 or 12345678901234567890 ½"),
        ("Chinese", corpora.chinese_text().splitlines()[0]),
        ("Python code", code[cstart : cstart + 400]),
        ("Shakespeare", play[start : start + 700]),
        ("the empty string", ""),
        ("random Unicode", _random_unicode(rng, 80)),
        ("emoji and combining marks", "e\u0301 🤗👍🏽 naïve — ok?!"),
    ]
