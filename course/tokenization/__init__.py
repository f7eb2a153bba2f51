"""Chapter 4 (tokenization) references: BPE (characters and bytes), GPT-2, WordPiece (BERT).

Modules: :mod:`.bpe` (trainers, encoders), :mod:`.gpt2` (pre-tokeniser, ranks, tiktoken oracle),
:mod:`.wordpiece` (BERT normaliser, pre-tokeniser, WordPiece), :mod:`.corpora` (offline text).
"""

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
