"""The claims of book/05-ssl/digits.md hold for the committed results of
benchmarks/ssl_learning_digits.py (no training here: the JSON is read)."""

from __future__ import annotations

import json

from conftest import ROOT

RESULTS = ROOT / "book" / "_static" / "benchmarks" / "ssl_learning_digits.json"


def test_simclr_beats_the_random_encoder_beyond_run_to_run_noise():
    res = json.loads(RESULTS.read_text())
    assert res["seeds"] >= 3, "the page reports a spread over seeds"
    gain = res["simclr"]["mean"] - res["random"]["mean"]
    noise = max(res["simclr"]["std"], res["random"]["std"])
    assert gain > 3 * noise and gain > 0.02, (gain, noise)
    assert min(res["simclr"]["values"]) > max(res["random"]["values"])
    assert res["supervised"]["mean"] > res["simclr"]["mean"], "labels remain the upper bound"


def test_the_page_has_what_it_plots():
    res = json.loads(RESULTS.read_text())
    assert len(res["simclr_curves"]) == res["seeds"] == len(res["mae_curves"])
    for curve in res["simclr_curves"]:
        assert curve[0]["loss"] > curve[-1]["loss"], "the NT-Xent loss falls"
        assert "probe" in curve[0] and "probe" in curve[-1]
    rec = res["mae_reconstructions"]
    assert {len(rec[k]) for k in ("original", "masked", "reconstruction", "mask")} == {6}
    assert all(sum(row) == 12 for row in rec["mask"]), "75% of 16 patches masked"
