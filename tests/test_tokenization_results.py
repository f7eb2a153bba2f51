"""The JSON results the chapter's pages plot are reproducible from the course's code: the vocabulary
experiment's merges are the trainer's, and its token counts are the encoders'."""

from __future__ import annotations

import json
from collections import Counter

from conftest import ROOT

from course.tokenization import bpe, corpora, gpt2

RESULT = ROOT / "book" / "_static" / "tokenization_vocab.json"


def test_vocab_experiment_merges_and_counts():
    result = json.loads(RESULT.read_text())
    train = corpora.shakespeare_text(exclude=("hamlet",))
    counts = Counter(p.encode("utf-8") for p in gpt2.pretokenize(train))
    assert len(counts) == result["train_distinct_pretokens"]
    merges = [tuple(m) for m in result["merges"]]
    assert len(merges) == result["sizes"][-1] - 256
    assert bpe.train_byte_bpe(counts, 100) == merges[:100]
    rows = {r["text"]: r for r in result["rows"]}
    chinese = rows["Chinese"]
    pieces = [p.encode() for p in gpt2.pretokenize(corpora.chinese_text())]
    for v in result["sizes"]:
        assert len(bpe.encode_with_cache(pieces, merges[: v - 256])) == chinese[f"BPE {v}"]
    assert len(gpt2.gpt2_encode(corpora.chinese_text())) == chinese["GPT-2 50257"]


def test_benchmark_json_has_the_agreement_and_the_baseline():
    bench = json.loads((ROOT / "book/_static/benchmarks/tokenization_bpe.json").read_text())
    assert bench["tokenizers_agreement"]["equal_with_hf_tie_break"] is True
    assert [r[0] for r in bench["rows"]][1] == "naive recount (baseline)"
    assert bench["encode_rows"][-1][0] == "tiktoken (baseline)"
