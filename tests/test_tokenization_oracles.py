"""Chapter 4 references (course/tokenization) against independent oracles: Hugging Face
``tokenizers`` (BPE trainer and model, ByteLevel pre-tokeniser, the shipped BERT tokenizer.json) and
tiktoken's GPT-2 Encoding built from openai-whisper's packaged ranks."""

from __future__ import annotations

import random

import pytest
import regex

from course.tokenization import bpe, corpora, gpt2, wordpiece

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

SEED_WORDS = {"ab": 1, "bc": 1, "bcd": 1, "cde": 1}


# ----------------------------------------------------------------------------- helpers
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map (as in its encoder.py / tokenizers' ByteLevel)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1))
    bs += list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
U2B = {c: b for b, c in B2U.items()}


def hf_train(word_counts: dict[str, int], vocab_size: int, byte_level: bool = False):
    """Merges learned by tokenizers' BpeTrainer on words with counts (each word one sequence;
    byte_level: no split, bytes mapped to GPT-2's printable characters)."""
    tok = Tokenizer(models.BPE())
    if byte_level:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        alphabet = []
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, show_progress=False, initial_alphabet=alphabet, min_frequency=0
    )
    lines = [w for w, n in word_counts.items() for _ in range(n)]
    tok.train_from_iterator(lines, trainer=trainer)
    import json

    merges = json.loads(tok.to_str())["model"]["merges"]
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]


def random_corpus(rng: random.Random, alphabet: str = "abcd") -> dict[str, int]:
    words = {}
    for _ in range(rng.randint(1, 12)):
        w = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        words[w] = rng.randint(1, 4)
    return words


def shakespeare_words(limit_chars: int = 200_000) -> dict[str, int]:
    text = corpora.shakespeare_plays()["hamlet"][:limit_chars]
    counts: dict[str, int] = {}
    for w in text.split():
        counts[w] = counts.get(w, 0) + 1
    return counts


# ----------------------------------------------------------------------------- trainers
def test_seed_example_ties_and_merges():
    """The notes' four words: the first pair counts tie (bc = cd = 2); our rule takes ("b", "c")."""
    counts = bpe.pair_counts({tuple(w): n for w, n in SEED_WORDS.items()})
    assert counts[("b", "c")] == counts[("c", "d")] == 2
    assert bpe.train_bpe(SEED_WORDS, 10) == [
        ("b", "c"),
        ("a", "b"),
        ("bc", "d"),
        ("c", "d"),
        ("cd", "e"),
    ]
    # Hugging Face's id-order tie-break agrees on the first two merges, then picks ("c", "d").
    assert hf_train(SEED_WORDS, 10)[:3] == [("b", "c"), ("a", "b"), ("c", "d")]
    assert bpe.train_bpe_fast(SEED_WORDS, 10, tie_break="hf") == hf_train(SEED_WORDS, 10)


@pytest.mark.parametrize("seed", range(60))
def test_incremental_equals_naive_random(seed):
    rng = random.Random(seed)
    words = random_corpus(rng, rng.choice(["ab", "abc", "abcd", "aé中🤗"]))
    assert bpe.train_bpe_fast(words, 30) == bpe.train_bpe(words, 30)


@pytest.mark.parametrize("seed", range(60))
def test_hf_tie_break_equals_tokenizers_random(seed):
    rng = random.Random(1000 + seed)
    words = random_corpus(rng, rng.choice(["ab", "abc", "abcd", "aé中🤗"]))
    theirs = hf_train(words, 200)
    assert bpe.train_bpe_fast(words, len(theirs) + 5, tie_break="hf")[: len(theirs)] == theirs
    assert len(bpe.train_bpe_fast(words, 10_000, tie_break="hf")) == len(theirs)


def test_trainers_on_shakespeare_words():
    words = shakespeare_words()
    ours = bpe.train_bpe_fast(words, 300)
    assert ours == bpe.train_bpe(words, 300)
    theirs = hf_train(words, 2000)
    assert bpe.train_bpe_fast(words, len(theirs), tie_break="hf") == theirs


def test_byte_level_trainer_equals_tokenizers_bytelevel():
    """Pre-tokenised Shakespeare bytes, mapped through GPT-2's byte -> char table, HF tie order."""
    text = corpora.shakespeare_plays()["macbeth"][:60_000]
    counts: dict[bytes, int] = {}
    for piece in gpt2.pretokenize(text):
        b = piece.encode()
        counts[b] = counts.get(b, 0) + 1
    mapped = {"".join(B2U[x] for x in b): n for b, n in counts.items()}
    raw = {b.decode("utf-8"): n for b, n in counts.items()}
    theirs = hf_train(raw, 256 + 400, byte_level=True)
    assert len(theirs) == 400
    ours = bpe.train_bpe_fast(mapped, 400, tie_break="hf")
    assert ours == theirs
    # The course's byte-id order differs from HF's only in tie-breaks: the merges agree up to the
    # first step where they differ, and there the two choices have the same count.
    vocab = bpe.byte_vocab(bpe.train_byte_bpe(counts, 400))
    lex = ["".join(B2U[x] for x in vocab[256 + r]) for r in range(400)]
    d = next(i for i, (a, b) in enumerate(zip(lex, theirs)) if a != b[0] + b[1])
    words = {tuple(w): n for w, n in mapped.items()}
    for a, b in theirs[:d]:
        words = {bpe.merge_word(w, (a, b), a + b): n for w, n in words.items()}
    at_d = bpe.pair_counts(words)
    ours_d = next(p for p in at_d if p[0] + p[1] == lex[d] and at_d[p] == max(at_d.values()))
    assert at_d[ours_d] == at_d[theirs[d]] == max(at_d.values())
    assert bpe.train_byte_bpe(counts, 150) == bpe.train_byte_bpe_naive(counts, 150)


# ----------------------------------------------------------------------------- encoders
def hf_bpe_model(merges: list[tuple[str, str]], alphabet: list[str]) -> Tokenizer:
    vocab = {c: i for i, c in enumerate(alphabet)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def test_bpe_encode_equals_tokenizers_bpe_model():
    words = shakespeare_words(100_000)
    merges = bpe.train_bpe(words, 200)
    alphabet = sorted({c for w in words for c in w})
    tok = hf_bpe_model(merges, alphabet)
    test_words = corpora.shakespeare_plays()["othello"][:20_000].split()
    test_words = [w for w in test_words if set(w) <= set(alphabet)]
    for w in test_words[:2000]:
        assert bpe.bpe_encode(w, merges) == tok.encode(w).tokens, w


def test_bpe_encode_edge_cases():
    merges = bpe.train_bpe(SEED_WORDS, 10)
    assert bpe.bpe_encode("", merges) == []
    assert bpe.bpe_encode("x", merges) == ["x"]
    # (b,c) has rank 0: merged first although (a,b) comes first in the word; then (bc,d), rank 2.
    assert bpe.bpe_encode("abcde", merges) == ["a", "bcd", "e"]
    assert bpe.bpe_encode("bcde", merges) == ["bcd", "e"]
    assert bpe.bpe_encode("zbcz", merges) == ["z", "bc", "z"]  # unknown characters stay
    assert bpe.bpe_decode(bpe.bpe_encode("cdebcab", merges)) == "cdebcab"


def random_text(rng: random.Random, n: int = 40) -> str:
    pools = [
        "abc xyz ",
        "  \n\t\r",
        "éèàü\u0301\u0308",
        "中文分詞我喜歡看電影",
        "🤗🙂👍🏽‍♀️",
        "'s're've!?.,;:-()[]{}",
        "0123456789",
        "\u00a0\u2028\u3000\x0b\x0c\x85\x1c",
        "Ωσς Αθήνα Привет مرحبا",
    ]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, n)))


@pytest.fixture(scope="module")
def byte_merges():
    text = corpora.shakespeare_text()[:300_000] + corpora.chinese_text()
    counts: dict[bytes, int] = {}
    for piece in gpt2.pretokenize(text):
        b = piece.encode()
        counts[b] = counts.get(b, 0) + 1
    return bpe.train_byte_bpe(counts, 300)


def test_byte_encode_equals_tokenizers_bpe_with_byte_alphabet(byte_merges):
    vocab = bpe.byte_vocab(byte_merges)
    as_chars = ["".join(B2U[x] for x in v) for v in vocab]
    hf_vocab = {s: i for i, s in enumerate(as_chars)}
    assert len(hf_vocab) == len(as_chars)  # no duplicate token strings
    hf_merges = [(as_chars[a], as_chars[b]) for a, b in byte_merges]
    tok = Tokenizer(models.BPE(vocab=hf_vocab, merges=hf_merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    rng = random.Random(0)
    texts = [corpora.shakespeare_plays()["the-tempest"][:3000], corpora.chinese_text(), ""]
    texts += [random_text(rng) for _ in range(300)]
    for t in texts:
        ids = bpe.byte_encode(t, byte_merges)
        assert ids == tok.encode(t).ids, t
        assert bpe.byte_decode(ids, byte_merges) == t
        assert tok.decode(ids) == t


def test_byte_decode_partial_characters(byte_merges):
    """Splitting a multi-byte character: decode bytes once, with U+FFFD replacements."""
    for t in ["我喜歡", "🤗", "é", "a👍🏽b"]:
        ids = bpe.byte_encode(t, byte_merges)
        raw = t.encode()
        for k in range(len(ids) + 1):
            part = b"".join(bpe.byte_vocab(byte_merges)[i] for i in ids[:k])
            assert raw.startswith(part)
            assert bpe.byte_decode(ids[:k], byte_merges) == part.decode("utf-8", "replace")


# ----------------------------------------------------------------------------- GPT-2
HELD_TEXTS = {
    "shakespeare": lambda: corpora.shakespeare_plays()["hamlet"][:40_000],
    "chinese": corpora.chinese_text,
    "code": lambda: corpora.code_text()[:40_000],
    "whitespace": lambda: "a  b   c\n\n\n  d\t\t e \n \n   \r\n x  ",
    "contractions": lambda: "I'm, you're, they've; it's HE'LL (we'd) don't 'tis ''s",
    "numbers": lambda: "In 1999 there were 3.14159 and 1,000,000 or 12345678901234567890 ½ ² ٣",
    "empty": lambda: "",
    "special-looking": lambda: "hello <|endoftext|> world",
}


def hf_bytelevel_split(text: str) -> list[str]:
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return [bytes(U2B[c] for c in s).decode("utf-8") for s, _ in pre.pre_tokenize_str(text)]


@pytest.mark.parametrize("name", sorted(HELD_TEXTS))
def test_pretokenize_equals_tokenizers_and_tiktoken(name):
    text = HELD_TEXTS[name]()
    pieces = gpt2.pretokenize(text)
    assert "".join(pieces) == text
    assert pieces == hf_bytelevel_split(text)
    from tiktoken_ext.openai_public import r50k_pat_str

    assert pieces == regex.findall(r50k_pat_str, text)


def test_pretokenize_random_unicode():
    rng = random.Random(1)
    from tiktoken_ext.openai_public import r50k_pat_str

    enc = gpt2.tiktoken_gpt2()
    for _ in range(400):
        t = random_text(rng, 60)
        pieces = gpt2.pretokenize(t)
        assert pieces == hf_bytelevel_split(t), repr(t)
        assert pieces == regex.findall(r50k_pat_str, t)
        # tiktoken encodes piece by piece: the concatenation of the pieces' encodings is the whole.
        assert enc.encode_ordinary(t) == [i for p in pieces for i in enc.encode_ordinary(p)]


def test_gpt2_ranks_shape():
    ranks = gpt2.gpt2_ranks()
    assert len(ranks) == 50256 and sorted(ranks.values()) == list(range(50256))
    assert all(bytes([b]) in ranks for b in range(256))
    assert ranks[b" the"] == 262


@pytest.mark.parametrize("name", sorted(HELD_TEXTS))
def test_gpt2_encode_equals_tiktoken(name):
    text = HELD_TEXTS[name]()
    enc = gpt2.tiktoken_gpt2()
    ids = gpt2.gpt2_encode(text)
    assert ids == enc.encode_ordinary(text)
    assert gpt2.gpt2_decode(ids) == text == enc.decode(ids)
    small = gpt2.relevant_ranks(text)
    assert gpt2.gpt2_encode(text, small) == ids


def test_gpt2_encode_random_unicode():
    rng = random.Random(2)
    enc = gpt2.tiktoken_gpt2()
    for _ in range(300):
        t = random_text(rng, 60)
        assert gpt2.gpt2_encode(t) == enc.encode_ordinary(t), repr(t)


def test_endoftext_is_special():
    enc = gpt2.tiktoken_gpt2()
    assert enc.encode("<|endoftext|>", allowed_special="all") == [gpt2.ENDOFTEXT_ID]
    assert gpt2.gpt2_encode("<|endoftext|>") == enc.encode_ordinary("<|endoftext|>")
    assert len(gpt2.gpt2_encode("<|endoftext|>")) > 1


# ----------------------------------------------------------------------------- WordPiece
@pytest.fixture(scope="module")
def bert():
    tok = Tokenizer.from_file(wordpiece.tokenizer_json_path())
    tok.no_padding()  # the shipped file pads to 128 and truncates at 128
    tok.no_truncation()
    return tok


BERT_TEXTS = [
    "Hello, World! Unaffable naïveté — résumé café.",
    "我喜歡看電影和讀書。Tokyo東京",
    "The quick brown fox's $3.50 jump-over^2 `code` {braces} [brackets]",
    "supercalifragilisticexpialidocious " + "x" * 101 + " " + "ab" * 50,
    "",
    "   \t\n  ",
    "ΟΔΟΣ Ωμέγα İstanbul straße ﬁne Ǆ",
    "emoji 🤗 and \u00a0nbsp\u2028line\x00nul\ufffdrep\x07bell zero\u200bwidth",
    "HuggingFace's tokenizers: WordPiece greedy-longest-match-first ##not a prefix",
]


def test_vocab_matches_tokenizer_json(bert):
    assert wordpiece.bert_vocab() == bert.get_vocab()
    assert len(wordpiece.bert_vocab()) == 30522


@pytest.mark.parametrize("text", BERT_TEXTS)
def test_wordpiece_equals_tokenizers(bert, text):
    assert wordpiece.wordpiece_tokenize(text) == bert.encode(text, add_special_tokens=False).tokens


@pytest.mark.parametrize("text", BERT_TEXTS)
def test_bert_pretokenize_equals_tokenizers(bert, text):
    norm = bert.normalizer.normalize_str(text)
    assert wordpiece.normalize(text) == norm
    assert wordpiece.bert_pretokenize(text) == [
        w for w, _ in bert.pre_tokenizer.pre_tokenize_str(norm)
    ]


def test_wordpiece_real_text_and_random(bert):
    rng = random.Random(3)
    texts = [corpora.shakespeare_plays()["king-lear"][:20_000], corpora.chinese_text()]
    texts += [random_text(rng, 50) for _ in range(300)]
    for t in texts:
        ours = wordpiece.wordpiece_tokenize(t)
        assert ours == bert.encode(t, add_special_tokens=False).tokens, repr(t)
        words = wordpiece.bert_pretokenize(t)
        small = wordpiece.relevant_vocab(words)
        assert [p for w in words for p in wordpiece.wordpiece_word(w, small)] == ours
