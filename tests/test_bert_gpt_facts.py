"""Facts chapter 1 states, each checked from the page's own code cell (fast: nothing heavy runs)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

PAGES = Path(__file__).resolve().parents[1] / "book" / "01-bert-gpt"


def cell_defining(page: str, marker: str) -> dict:
    """Run the code cell of ``page`` that contains ``marker`` (tables only) and return its names."""
    nb = jupytext.read(PAGES / page)
    [source] = [c.source for c in nb.cells if c.cell_type == "code" and marker in c.source]
    names: dict = {"md_table": lambda header, rows: (header, rows)}
    exec(source, names)
    return names


def test_glue_averages_are_the_mean_of_the_nine_scores():
    glue = cell_defining("bert.md", "GLUE = {")["GLUE"]
    assert {k: avg for k, (_, avg) in glue.items()} == {
        "pre-OpenAI state of the art": 74.0,
        "BiLSTM + ELMo + Attn": 71.0,
        "OpenAI GPT": 75.1,
        "BERT-base": 79.6,
        "BERT-large": 82.1,
    }
    for name, (scores, avg) in glue.items():
        assert len(scores) == 9
        assert sum(scores) / 9 == pytest.approx(avg, abs=0.1), name  # scores printed rounded


def test_gpt3_table_sizes_and_the_13b_misprint():
    rows = cell_defining("gpt.md", "gpt3 = [")["gpt3"]
    assert [r[0] for r in rows] == ["Small", "Medium", "Large", "XL", "2.7B", "6.7B", "13B", "175B"]
    for name, params, layers, d, *_ in rows:
        paper = float(params[:-1]) * (1e6 if params.endswith("M") else 1e9)
        approx = 12 * layers * d**2 + (50257 + 2048) * d
        assert approx == pytest.approx(paper, rel=0.06), name
    by = {r[0]: r for r in rows}
    assert by["13B"][3] == 5140 and 5140 % 40 != 0 and 40 * 128 == 5120
    assert by["175B"][2:6] == (96, 12288, 96, 128)


def test_gpt3_data_mix_epochs():
    mix = cell_defining("gpt.md", "mix = {")["mix"]
    assert round(300 * mix["Common Crawl"][1] / mix["Common Crawl"][0], 2) == 0.44
    assert round(300 * mix["Books2"][1] / mix["Books2"][0], 2) == 0.44
    assert sum(w for _, w in mix.values()) == pytest.approx(1.01)
