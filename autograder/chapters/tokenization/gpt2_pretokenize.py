"""``tokenization.gpt2_pretokenize`` (block 4): GPT-2's regex pre-tokeniser."""

from __future__ import annotations

import regex

from autograder.chapters.tokenization._common import _excerpt, _held_texts, _rng
from autograder.checks.spec import Case, Step, register_pair
from course.tokenization import gpt2

_NO_LOOKAHEAD = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+"""
)
_ANY_CASE = regex.compile(
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
MISTAKES = {
    r"whitespace matched by \s+ alone: the (?!\S) alternative is missing": _NO_LOOKAHEAD.findall,
    "contractions matched in any case ('S, 'LL): GPT-2's are lower case only": _ANY_CASE.findall,
    "str.split() on whitespace instead of GPT-2's pattern": lambda text: text.split(),
}


def _pretokenize_cases(gen, device):
    for label, text in _held_texts(_rng(gen)):
        yield Case(f"{label}: {_excerpt(text)}", [Step((text,))])


register_pair(
    name="tokenization.gpt2_pretokenize",
    target="gpt2_pretokenize",
    reference=gpt2.pretokenize,
    cases=_pretokenize_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
