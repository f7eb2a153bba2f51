"""Checks for chapter 04-tokenization (solutions/04-tokenization), named ``tokenization.<block>``:
one module per block; importing a block module registers its checks.

Values cross the sandbox as JSON (str, int, lists of at most 256 items, dicts with at most 256
string keys): merges travel as lists of 2-item lists, byte strings never travel (block 5 encodes
str pre-tokens with the notebook's global ``GPT2_RANKS``), and WordPiece receives the part of
BERT's vocabulary that can matter for the word, as a list. Every block is graded on inputs made
by the *reference* for the upstream blocks (merges, pre-tokens, BERT words), so one mistake costs
one block.
"""

from autograder.chapters.tokenization import (  # noqa: F401  (importing registers the checks)
    bert_pretokenize,
    bpe_encode,
    byte_level,
    gpt2_encode,
    gpt2_pretokenize,
    train_bpe,
    wordpiece,
)
from autograder.chapters.tokenization.gpt2_encode import gpt2_encode_pieces  # noqa: F401
