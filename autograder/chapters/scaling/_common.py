"""Helpers shared by the scaling checks: seeded RNG and GPT configurations."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

SWEEP_JSON = Path(__file__).resolve().parents[3] / "book" / "_static" / "scaling_sweep.json"

GPT2_SMALL = {
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "n_inner": None,
    "tie_word_embeddings": True,
}


def _rng(gen: torch.Generator) -> random.Random:
    return random.Random(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))


def random_config(rng: random.Random) -> dict:
    heads = rng.choice([1, 2, 4, 8])
    return {
        "vocab_size": rng.randint(1, 60000),
        "n_positions": rng.randint(1, 4096),
        "n_embd": heads * rng.randint(1, 256),
        "n_layer": rng.randint(0, 48),
        "n_head": heads,
        "n_inner": rng.choice([None, rng.randint(1, 8192)]),
        "tie_word_embeddings": rng.random() < 0.5,
    }


def sweep_points(part: str | None = None) -> list[tuple[int, int, float]] | None:
    """(non-embedding N, tokens D, held-out loss) of the chapter's CPU runs, if their JSON exists:
    ``part`` "sweep" (same token budget), "isoflop" (same compute) or None (both)."""
    if not SWEEP_JSON.exists():
        return None
    data = json.loads(SWEEP_JSON.read_text())
    rows = data[part] if part else data["sweep"] + data["isoflop"]
    return [(r["non_embedding_params"], r["tokens"], r["heldout_loss"]) for r in rows]


def small_gpt(n_positions: int) -> dict:
    """A tiny tied GPT configuration (V=11, d=4, 2 layers, 2 heads, MLP 4d) for edge cases."""
    return {
        "vocab_size": 11,
        "n_positions": n_positions,
        "n_embd": 4,
        "n_layer": 2,
        "n_head": 2,
        "n_inner": None,
        "tie_word_embeddings": True,
    }
