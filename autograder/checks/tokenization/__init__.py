"""Checks for the tokenization assignment (solutions/04-tokenization), named ``tokenization.<block>``.

Values cross the sandbox as JSON (str, int, lists of at most 256 items, dicts with at most 256
string keys): merges travel as lists of 2-item lists, byte strings never travel (block 5 encodes
str pre-tokens with the notebook's global ``GPT2_RANKS``), and WordPiece receives the part of
BERT's vocabulary that can matter for the word, as a list. Every block is graded on inputs made
by the *reference* for the upstream blocks (merges, pre-tokens, BERT words), so one mistake costs
one block.
"""

from __future__ import annotations

import functools
import itertools
import random
import unicodedata
from collections import Counter

import regex
import torch

from autograder.checks.spec import Case, Check, Step, register
from course.tokenization import bpe, corpora, gpt2, wordpiece

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


def _register(name: str, target: str, reference, cases, misconceptions, visible_cases=None):
    register(
        Check(
            name=f"tokenization.{name}.visible",
            target=target,
            reference=reference,
            cases=visible_cases or (lambda gen, device: itertools.islice(cases(gen, device), 3)),
            visible=True,
            misconceptions=misconceptions,
        )
    )
    register(
        Check(
            name=f"tokenization.{name}",
            target=target,
            reference=reference,
            cases=cases,
            misconceptions=misconceptions,
        )
    )


# --- 1. train_bpe -----------------------------------------------------------------------------
SEED_WORDS = {"ab": 1, "bc": 1, "bcd": 1, "cde": 1}


def _train_with(count_pairs, choose):
    def train(word_counts, num_merges):
        words = {tuple(w): n for w, n in word_counts.items() if n > 0}
        merges = []
        for _ in range(num_merges):
            counts = count_pairs(words)
            if not counts:
                break
            best = choose(counts)
            merges.append(best)
            merged: dict = {}
            for w, n in words.items():
                k = bpe.merge_word(w, best, best[0] + best[1])
                merged[k] = merged.get(k, 0) + n
            words = merged
        return merges

    return train


def _counts_ordered(words):  # insertion order = order of first occurrence
    counts: dict = {}
    for w, n in words.items():
        for p in zip(w, w[1:]):
            counts[p] = counts.get(p, 0) + n
    return counts


def _counts_ignoring_weights(words):
    return _counts_ordered({w: 1 for w in words})


def _counts_once_per_word(words):
    counts: dict = {}
    for w, n in words.items():
        for p in dict.fromkeys(zip(w, w[1:])):
            counts[p] = counts.get(p, 0) + n
    return counts


def _smallest(counts):
    return min(counts, key=lambda p: (-counts[p], p))


TRAIN_MISTAKES = {
    "ties broken by first occurrence (the pair counted first) instead of the smallest pair": (
        _train_with(_counts_ordered, lambda c: max(c, key=c.get))
    ),
    "ties broken by the largest pair instead of the smallest": _train_with(
        _counts_ordered, lambda c: max(c, key=lambda p: (c[p], p))
    ),
    "pairs counted once per distinct word, ignoring the word counts": _train_with(
        _counts_ignoring_weights, _smallest
    ),
    'a pair that occurs several times in a word counted once ("aaa" holds (a, a) twice)': (
        _train_with(_counts_once_per_word, _smallest)
    ),
}


def _shakespeare_words(rng: random.Random, n: int) -> dict[str, int]:
    plays = corpora.shakespeare_plays()
    text = plays[rng.choice(sorted(plays))]
    return dict(Counter(text.split()).most_common(n))


def _train_cases(gen, device):
    rng = _rng(gen)
    fixed = [
        ("the lecture notes' four words: a tie at the first step", SEED_WORDS, 10),
        ("a tie between (b, a) and (a, b)", {"ba": 1, "ab": 1}, 3),
        ("word counts weight the pairs", {"xy": 1, "yz": 5, "xyxy": 1}, 4),
        ('overlapping pairs: "aaa" holds (a, a) twice', {"aaa": 2, "ab": 3}, 3),
        ("an empty word and one-character words", {"": 3, "a": 2, "ab": 1}, 5),
        ("num_merges = 0", {"abc": 2}, 0),
        ("more merges asked than possible", {"abcd": 1, "bc": 2}, 20),
        ("emoji, accents and Chinese", {"中文中文": 2, "🤗🤗a": 1, "éé": 3, "e\u0301": 2}, 8),
        ("repeated symbols", {"aaaa": 3, "aaab": 2, "abab": 2}, 8),
    ]
    for label, words, k in fixed:
        yield Case(label, [Step((words, k))])
    for _ in range(5):
        alphabet = rng.choice(["ab", "abc", "abcd", "aé中"])
        words = {
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))): rng.randint(1, 4)
            for _ in range(rng.randint(2, 15))
        }
        yield Case(f"random words over {alphabet!r} (many ties), 30 merges", [Step((words, 30))])
    words = _shakespeare_words(rng, 200)
    yield Case("the 200 most frequent words of a play, 60 merges", [Step((words, 60))])


_register("train_bpe", "train_bpe", bpe.train_bpe, _train_cases, TRAIN_MISTAKES)


# --- 2. bpe_encode ----------------------------------------------------------------------------
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


ENCODE_MISTAKES = {
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


_register("bpe_encode", "bpe_encode", bpe.bpe_encode, _encode_cases, ENCODE_MISTAKES)


# --- 3. byte_encode / byte_decode -------------------------------------------------------------
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


BYTE_ENCODE_MISTAKES = {
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


BYTE_DECODE_MISTAKES = {
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


_register("byte_encode", "byte_encode", bpe.byte_encode, _byte_encode_cases, BYTE_ENCODE_MISTAKES)
_register("byte_decode", "byte_decode", bpe.byte_decode, _byte_decode_cases, BYTE_DECODE_MISTAKES)


# --- 4. gpt2_pretokenize ----------------------------------------------------------------------
_NO_LOOKAHEAD = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+"""
)
_ANY_CASE = regex.compile(
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
PRETOKENIZE_MISTAKES = {
    r"whitespace matched by \s+ alone: the (?!\S) alternative is missing": _NO_LOOKAHEAD.findall,
    "contractions matched in any case ('S, 'LL): GPT-2's are lower case only": _ANY_CASE.findall,
    "str.split() on whitespace instead of GPT-2's pattern": lambda text: text.split(),
}


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


def _pretokenize_cases(gen, device):
    for label, text in _held_texts(_rng(gen)):
        yield Case(f"{label}: {_excerpt(text)}", [Step((text,))])


_register(
    "gpt2_pretokenize",
    "gpt2_pretokenize",
    gpt2.pretokenize,
    _pretokenize_cases,
    PRETOKENIZE_MISTAKES,
)


# --- 5. gpt2_encode_pieces --------------------------------------------------------------------
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


GPT2_MISTAKES = {
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


_register(
    "gpt2_encode_pieces", "gpt2_encode_pieces", gpt2_encode_pieces, _gpt2_cases, GPT2_MISTAKES
)


# --- 6. wordpiece -----------------------------------------------------------------------------
def _wp_shortest(word, vocab):
    vocab = set(vocab)
    if len(word) > wordpiece.MAX_CHARS:
        return [wordpiece.UNK]
    start, pieces = 0, []
    while start < len(word):
        for end in range(start + 1, len(word) + 1):
            sub = ("##" if start else "") + word[start:end]
            if sub in vocab:
                break
        else:
            return [wordpiece.UNK]
        pieces.append(sub)
        start = end
    return pieces


def _wp_no_prefix(word, vocab):
    vocab = set(vocab)
    if len(word) > wordpiece.MAX_CHARS:
        return [wordpiece.UNK]
    start, pieces = 0, []
    while start < len(word):
        for end in range(len(word), start, -1):
            if word[start:end] in vocab:
                break
        else:
            return [wordpiece.UNK]
        pieces.append(word[start:end])
        start = end
    return pieces


def _wp_partial_unk(word, vocab):
    vocab = set(vocab)
    if len(word) > wordpiece.MAX_CHARS:
        return [wordpiece.UNK]
    start, pieces = 0, []
    while start < len(word):
        for end in range(len(word), start, -1):
            sub = ("##" if start else "") + word[start:end]
            if sub in vocab:
                pieces.append(sub)
                break
        else:
            pieces.append(wordpiece.UNK)
            end = start + 1
        start = end
    return pieces


def _wp_no_limit(word, vocab):
    vocab = set(vocab)
    out = []
    start = 0
    while start < len(word):
        for end in range(len(word), start, -1):
            sub = ("##" if start else "") + word[start:end]
            if sub in vocab:
                out.append(sub)
                break
        else:
            return [wordpiece.UNK]
        start = end
    return out


WORDPIECE_MISTAKES = {
    "the shortest match at each step instead of the longest": _wp_shortest,
    "continuations looked up without the ## prefix": _wp_no_prefix,
    "only the unmatched part becomes [UNK] (the rule: the whole word)": _wp_partial_unk,
    "words longer than 100 characters not mapped to [UNK]": _wp_no_limit,
}


def _vocab_for(words: list[str]) -> list[str]:
    return sorted(wordpiece.relevant_vocab(words))


def _word_case(label: str, words: list[str]) -> Case | None:
    vocab = _vocab_for(words)
    if len(vocab) > MAX_ITEMS:
        return None
    return Case(label, [Step((w, vocab)) for w in words])


def _wordpiece_cases(gen, device):
    rng = _rng(gen)
    yield _word_case("'unaffable' with BERT's vocabulary", ["unaffable"])
    yield _word_case("'x☃y': no piece for ☃", ["x☃y", "hamlet"])
    long = "a" * 101
    yield Case(
        "a word of 101 characters", [Step((long, ["a", "##a", "aa", "##aa", wordpiece.UNK]))]
    )
    yield Case("a word of exactly 100 characters", [Step(("a" * 100, ["a", "##a", wordpiece.UNK]))])
    yield _word_case("one-character words and punctuation", ["a", ",", "我", "☃", "##"])
    yield _word_case("a word that starts with ## in the text", ["##ization", "tokenization"])
    for label, text in _held_texts(rng):
        words = wordpiece.bert_pretokenize(text)
        rng.shuffle(words)
        chunk: list[str] = []
        for w in words[:60]:
            if len(_vocab_for(chunk + [w])) > MAX_ITEMS:
                break
            chunk.append(w)
        if chunk:
            yield _word_case(f"words of {label}", chunk)


def _wordpiece_cases_clean(gen, device):
    return [c for c in _wordpiece_cases(gen, device) if c is not None]


_register(
    "wordpiece", "wordpiece", wordpiece.wordpiece_word, _wordpiece_cases_clean, WORDPIECE_MISTAKES
)


# --- 7. bert_pretokenize ----------------------------------------------------------------------
def _normalize_no_strip(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\x00" or ch == "\ufffd" or wordpiece.is_control(ch):
            continue
        if wordpiece.is_whitespace(ch):
            out.append(" ")
        elif wordpiece.is_cjk(ch):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    return "".join(out).lower()


def _pretokenize_with(normalize, text, split_punct=True):
    words, cur = [], []
    for ch in normalize(text):
        if wordpiece.is_whitespace(ch) or (split_punct and wordpiece.is_punctuation(ch)):
            if cur:
                words.append("".join(cur))
                cur = []
            if not wordpiece.is_whitespace(ch):
                words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def _bert_no_punct_split(text):
    return _pretokenize_with(wordpiece.normalize, text, split_punct=False)


def _bert_no_cjk(text):
    def normalize(t):
        t = "".join(
            " " if wordpiece.is_whitespace(c) else c
            for c in t
            if not (c in "\x00\ufffd" or wordpiece.is_control(c))
        )
        t = unicodedata.normalize("NFD", t)
        return "".join(c for c in t if unicodedata.category(c) != "Mn").lower()

    return _pretokenize_with(normalize, text)


BERT_MISTAKES = {
    "accents kept (strip them: NFD, then drop category Mn)": lambda t: _pretokenize_with(
        _normalize_no_strip, t
    ),
    "punctuation left attached to words": _bert_no_punct_split,
    "CJK ideographs not split into one word each": _bert_no_cjk,
}


def _bert_cases(gen, device):
    rng = _rng(gen)
    yield Case("accents: 'Naïve Café'", [Step(("Naïve Café RÉSUMÉ",))])
    yield Case("punctuation: 'Hello, world!'", [Step(("Hello, world! $3.50 (yes)",))])
    yield Case("Chinese characters", [Step(("我喜歡看電影 and 讀書",))])
    yield Case("capital Greek with a final sigma", [Step(("ΟΔΟΣ Ωμέγα ΣΟΦΙΑ",))])
    yield Case(
        "control characters, NUL, U+FFFD and unusual whitespace",
        [Step(("a\x00b\ufffdc\x07d\u00a0e\u3000f\tg\r\nh\u2028i\u200bj",))],
    )
    yield Case("the empty string and only spaces", [Step(("",)), Step(("  \t\n ",))])
    for label, text in _held_texts(rng):
        words = wordpiece.bert_pretokenize(text)
        if len(words) > MAX_ITEMS:
            text = text[: len(text) * MAX_ITEMS // (2 * len(words))]
        yield Case(f"{label}: {_excerpt(text)}", [Step((text,))])


_register(
    "bert_pretokenize", "bert_pretokenize", wordpiece.bert_pretokenize, _bert_cases, BERT_MISTAKES
)
