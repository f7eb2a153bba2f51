"""Vocabulary size vs sequence length: the course's byte-level BPE trained on 37 Shakespeare plays
(Hamlet held out) up to 16,384 tokens, measured in tokens per byte on held-out English (Hamlet),
Chinese and Python code, next to characters, words, GPT-2 (50,257) and BERT's WordPiece (30,522).

Run: .venv/bin/python experiments/tokenization_vocab.py   (about 30 s on 2 cores)
Writes book/_static/tokenization_vocab.json, which book/04-tokenization pages read (merges included:
the merges of a smaller vocabulary are a prefix of the larger one's).
"""

from __future__ import annotations

import json
import platform
import time
from collections import Counter
from pathlib import Path

from course.tokenization import bpe, corpora, gpt2, wordpiece

OUT = Path(__file__).resolve().parents[1] / "book" / "_static" / "tokenization_vocab.json"
HELD_OUT = "hamlet"
SIZES = [256, 512, 1024, 2048, 4096, 8192, 16384]


def main() -> None:
    start = time.perf_counter()
    train = corpora.shakespeare_text(exclude=(HELD_OUT,))
    counts = Counter(p.encode("utf-8") for p in gpt2.pretokenize(train))
    t0 = time.perf_counter()
    merges = bpe.train_byte_bpe(counts, SIZES[-1] - 256)
    train_seconds = time.perf_counter() - t0

    texts = {
        "English (Hamlet, held out)": corpora.shakespeare_plays()[HELD_OUT],
        "Chinese": corpora.chinese_text(),
        "Python code": corpora.code_text(),
    }
    train_words = Counter(train.split())
    rows = []
    for name, text in texts.items():
        nbytes = len(text.encode("utf-8"))
        pieces = [p.encode("utf-8") for p in gpt2.pretokenize(text)]
        row = {"text": name, "bytes": nbytes, "characters": len(text)}
        words = text.split()
        row["words"] = len(words)
        row["word OOV rate"] = sum(w not in train_words for w in words) / max(len(words), 1)
        for v in SIZES:
            row[f"BPE {v}"] = len(bpe.encode_with_cache(pieces, merges[: v - 256]))
        row["GPT-2 50257"] = len(gpt2.gpt2_encode(text))
        bert = wordpiece.wordpiece_tokenize(text)
        row["BERT WordPiece 30522"] = len(bert)
        row["BERT [UNK] rate"] = bert.count(wordpiece.UNK) / max(len(bert), 1)
        rows.append(row)

    OUT.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {platform.python_version()}",
                "train_plays": len(corpora.shakespeare_plays()) - 1,
                "train_bytes": len(train.encode("utf-8")),
                "train_distinct_pretokens": len(counts),
                "train_seconds": round(train_seconds, 1),
                "total_seconds": round(time.perf_counter() - start, 1),
                "sizes": SIZES,
                "word_vocabulary": len(train_words),
                "rows": rows,
                "merges": merges,
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    print({k: v for k, v in json.loads(OUT.read_text()).items() if k != "merges"})


if __name__ == "__main__":
    main()
