"""Chapter 04-tokenization: the reference implementations of BPE, GPT-2's and BERT's tokenisers.

Parts: the graded blocks, one module per tokeniser (:mod:`.bpe`, trainers and encoders at the
character and byte level; :mod:`.gpt2`, pre-tokeniser, ranks and the tiktoken oracle;
:mod:`.wordpiece`, BERT's normaliser, pre-tokeniser and WordPiece; proven in
``tests/test_tokenization_oracles.py``; ``autograder/chapters/tokenization/`` grades students against
them); :mod:`.corpora`, the offline texts (the checks read them too); :mod:`.widgets`, the book's
tokenizer viewer. The package's names are the graded blocks' and, imported on first use, the
widgets' (:mod:`course._parts`).
"""

from course._parts import lazy_parts
from course.tokenization.bpe import (
    bpe_decode,
    bpe_encode,
    byte_decode,
    byte_encode,
    train_bpe,
    train_bpe_fast,
    train_byte_bpe,
)
from course.tokenization.gpt2 import GPT2_PATTERN, encode_piece, gpt2_encode, pretokenize
from course.tokenization.wordpiece import bert_pretokenize, wordpiece_tokenize, wordpiece_word

__getattr__, __dir__ = lazy_parts(__name__, "widgets")

__all__ = [
    "GPT2_PATTERN",
    "bert_pretokenize",
    "bpe_decode",
    "bpe_encode",
    "byte_decode",
    "byte_encode",
    "encode_piece",
    "gpt2_encode",
    "pretokenize",
    "train_bpe",
    "train_bpe_fast",
    "train_byte_bpe",
    "wordpiece_word",
    "wordpiece_tokenize",
]
