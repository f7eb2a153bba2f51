"""``tokenization.gpt2_encode_pieces`` (block 5): encoding the reference's pre-tokens with the
real GPT-2 ranks (the notebook's global ``GPT2_RANKS``); ids equal tiktoken's."""

from __future__ import annotations

from autograder.chapters.tokenization._common import MAX_ITEMS, _excerpt, _held_texts, _rng
from autograder.checks.spec import Case, Step, register_pair
from course.tokenization import gpt2


def gpt2_encode_pieces(pieces: list[str]) -> list[int]:
    """Reference for block 5: each pre-token's UTF-8 bytes encoded with GPT-2's ranks."""
    ranks = gpt2.gpt2_ranks()
    return [i for p in pieces for i in gpt2.encode_piece(p.encode("utf-8"), ranks)]


def _encode_pieces_leftmost(pieces):
    ranks = gpt2.gpt2_ranks()
    out = []
    for p in pieces:
        parts = [bytes([b]) for b in p.encode("utf-8")]
        while True:
            for i in range(len(parts) - 1):
                if parts[i] + parts[i + 1] in ranks:
                    parts[i : i + 2] = [parts[i] + parts[i + 1]]
                    break
            else:
                break
        out += [ranks[x] for x in parts]
    return out


def _encode_pieces_joined(pieces):
    return gpt2.encode_piece("".join(pieces).encode("utf-8"), gpt2.gpt2_ranks())


MISTAKES = {
    "merging the leftmost pair found in the ranks instead of the pair of lowest rank": (
        _encode_pieces_leftmost
    ),
    "the pieces joined and encoded as one (merges across pre-token boundaries)": (
        _encode_pieces_joined
    ),
}


def _chunks(pieces: list[str]) -> list[list[str]]:
    """Consecutive pieces whose reference encoding has at most MAX_ITEMS ids."""
    out, cur, n = [], [], 0
    for p in pieces:
        k = len(gpt2_encode_pieces([p]))
        if cur and n + k > MAX_ITEMS:
            out.append(cur)
            cur, n = [], 0
        cur.append(p)
        n += k
    if cur or not out:
        out.append(cur)
    return out


def _gpt2_cases(gen, device):
    rng = _rng(gen)
    yield Case("one pre-token: ' unaffable'", [Step(([" unaffable"],))])
    yield Case("no pieces", [Step(([],))])
    for label, text in _held_texts(rng):
        steps = [Step((c,)) for c in _chunks(gpt2.pretokenize(text))]
        yield Case(f"{label}: {_excerpt(text)}", steps)


register_pair(
    name="tokenization.gpt2_encode_pieces",
    target="gpt2_encode_pieces",
    reference=gpt2_encode_pieces,
    cases=_gpt2_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
