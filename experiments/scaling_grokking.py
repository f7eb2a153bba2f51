"""Grokking on modular addition (Power et al. 2022): a + b mod p, a fraction of the p * p table for
training, the rest held out; train and validation accuracy vs optimisation steps for several
weight decays.

The model is small on purpose (two learned 64-dimensional embeddings, one hidden layer of 256 ReLU
units, p logits), trained full batch with AdamW, so each run takes about two minutes on one idle
CPU thread.

Run: .venv/bin/python experiments/scaling_grokking.py   (about 7 minutes on one idle CPU thread)
Writes book/_static/scaling_grokking.json, which book/02-scaling-laws pages read. Seeds are fixed.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

OUT = Path(__file__).resolve().parents[1] / "book" / "_static" / "scaling_grokking.json"
P = 59
TRAIN_FRACTION = 0.5
STEPS = 4000
EVAL_EVERY = 50
WEIGHT_DECAYS = [1.0, 0.3, 0.0]


class ModAdd(nn.Module):
    def __init__(self, p: int, d: int = 64, hidden: int = 256):
        super().__init__()
        self.embed = nn.Embedding(p, d)
        self.hidden = nn.Linear(2 * d, hidden)
        self.out = nn.Linear(hidden, p)

    def forward(self, ab: torch.Tensor) -> torch.Tensor:
        """ab: (B, 2) integers in [0, p) -> (B, p) logits."""
        x = self.embed(ab).flatten(1)
        return self.out(F.relu(self.hidden(x)))


def split(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    a, b = torch.meshgrid(torch.arange(P), torch.arange(P), indexing="ij")
    ab = torch.stack([a.flatten(), b.flatten()], 1)
    y = (ab[:, 0] + ab[:, 1]) % P
    perm = torch.randperm(P * P, generator=torch.Generator().manual_seed(seed))
    n = int(TRAIN_FRACTION * P * P)
    return ab[perm[:n]], y[perm[:n]], ab[perm[n:]], y[perm[n:]]


def run(weight_decay: float, steps: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    xtr, ytr, xva, yva = split(seed)
    model = ModAdd(P)
    opt = torch.optim.AdamW(
        model.parameters(), lr=3e-3, betas=(0.9, 0.98), weight_decay=weight_decay
    )
    curve = {"step": [], "train_acc": [], "val_acc": [], "train_loss": [], "val_loss": []}
    t0 = time.perf_counter()
    for step in range(steps + 1):
        if step % EVAL_EVERY == 0:
            with torch.no_grad():
                lt, lv = model(xtr), model(xva)
                curve["step"].append(step)
                curve["train_acc"].append((lt.argmax(-1) == ytr).float().mean().item())
                curve["val_acc"].append((lv.argmax(-1) == yva).float().mean().item())
                curve["train_loss"].append(F.cross_entropy(lt, ytr).item())
                curve["val_loss"].append(F.cross_entropy(lv, yva).item())
        if step == steps:
            break
        loss = F.cross_entropy(model(xtr), ytr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    first = lambda key: next(  # noqa: E731
        (s for s, a in zip(curve["step"], curve[key]) if a >= 0.99), None
    )
    row = {
        "weight_decay": weight_decay,
        "steps_to_99_train": first("train_acc"),
        "steps_to_99_val": first("val_acc"),
        "final_val_acc": curve["val_acc"][-1],
        "seconds": time.perf_counter() - t0,
        "curve": curve,
    }
    print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
    return row


def main(quick: bool = False) -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    steps = 300 if quick else STEPS
    runs = [run(wd, steps) for wd in WEIGHT_DECAYS]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, 1 torch thread",
        "torch": torch.__version__,
        "p": P,
        "train_fraction": TRAIN_FRACTION,
        "model": "embeddings 2 x 64 -> 256 ReLU -> p logits, AdamW lr 3e-3, full batch",
        "runs": runs,
        "seconds": time.perf_counter() - start,
    }
    if not quick:
        OUT.write_text(json.dumps(result) + "\n")
    print(f"{result['seconds']:.0f} s")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
