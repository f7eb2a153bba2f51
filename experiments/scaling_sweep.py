"""A scaling sweep of tiny decoder-only language models (the course's LLaMA blocks, chapter 3) on
Shakespeare, byte-level (vocabulary 256), trained on CPU.

Two parts:

* ``sweep``: six sizes from about 3 thousand to about 440 thousand non-embedding parameters, the
  same token budget for each, held-out loss (Hamlet) vs N on log-log axes;
* ``isoflop``: a fixed compute budget C = 6 N D (N non-embedding), five sizes, D = C / (6 N): the
  loss minimum along the slice, to compare with the 20-tokens-per-parameter rule.

Run: .venv/bin/python experiments/scaling_sweep.py   (about 20 minutes on one idle CPU thread;
the page prints the time each run took here)
Writes book/_static/scaling_sweep.json, which book/02-scaling-laws pages read. Seeds are fixed, so a
rerun reproduces the losses within run-to-run noise of the CPU kernels (about 0.01 nat).
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from course.llama import LlamaConfig, LlamaForCausalLM
from course.tokenization import corpora

OUT = Path(__file__).resolve().parents[1] / "book" / "_static" / "scaling_sweep.json"
HELD_OUT = "hamlet"
CTX = 128
BATCH = 16
VOCAB = 256  # bytes
# (hidden size, layers, heads): non-embedding parameters from ~3e3 to ~8e5
SIZES = [(16, 1, 2), (24, 1, 2), (32, 2, 2), (48, 2, 4), (64, 3, 4), (96, 4, 4)]
SWEEP_TOKENS = 3_200_000
ISO_C = 6e11  # FLOPs, C = 6 N D
ISO_SIZES = [(24, 1, 2), (32, 2, 2), (48, 2, 4), (64, 3, 4), (96, 4, 4)]
#: finished runs (one JSON line each), so that an interrupted sweep resumes where it stopped; every
#: run seeds its own generators, so a resumed sweep equals an uninterrupted one
CACHE = Path(os.environ.get("SCALING_SWEEP_CACHE", "/tmp/scaling_sweep_cache.jsonl"))


def config(d: int, layers: int, heads: int) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=d,
        intermediate_size=int(8 * d / 3 + 7) // 8 * 8,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=CTX,
        tie_word_embeddings=False,
    )


def non_embedding_params(model: torch.nn.Module) -> int:
    skip = {"model.embed_tokens.weight", "lm_head.weight"}
    return sum(p.numel() for n, p in model.named_parameters() if n not in skip)


def data() -> tuple[torch.Tensor, torch.Tensor]:
    train = corpora.shakespeare_text(exclude=(HELD_OUT,)).encode("utf-8")
    held = corpora.shakespeare_plays()[HELD_OUT].encode("utf-8")
    return (
        torch.frombuffer(bytearray(train), dtype=torch.uint8).long(),
        torch.frombuffer(bytearray(held), dtype=torch.uint8).long(),
    )


def batch(tokens: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    start = torch.randint(0, len(tokens) - CTX - 1, (BATCH,), generator=gen)
    idx = start[:, None] + torch.arange(CTX + 1)
    x = tokens[idx]
    return x[:, :-1], x[:, 1:]


@torch.no_grad()
def evaluate(model, held: torch.Tensor, n_batches: int = 24) -> float:
    gen = torch.Generator().manual_seed(1234)  # the same held-out windows for every model
    model.eval()
    losses = []
    for _ in range(n_batches):
        x, y = batch(held, gen)
        losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
    model.train()
    return sum(losses) / len(losses)


def train(size, n_tokens: int, train_tokens, held, seed: int = 0) -> dict:
    key = {"hidden": size[0], "layers": size[1], "heads": size[2], "requested_tokens": n_tokens}
    if CACHE.exists():
        for line in CACHE.read_text().splitlines():
            row = json.loads(line)
            if all(row.get(k) == v for k, v in key.items()):
                return row
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config(*size))
    n = non_embedding_params(model)
    steps = max(1, round(n_tokens / (BATCH * CTX)))
    lr = 3e-3
    warmup = max(1, steps // 20)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / warmup)
            * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
        ),
    )
    gen = torch.Generator().manual_seed(seed + 1)
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y = batch(train_tokens, gen)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    seconds = time.perf_counter() - t0
    row = {
        **key,
        "non_embedding_params": n,
        "tokens": steps * BATCH * CTX,
        "steps": steps,
        "train_loss": loss.item(),
        "heldout_loss": evaluate(model, held),
        "seconds": seconds,
    }
    print(json.dumps(row), flush=True)
    with CACHE.open("a") as f:
        f.write(json.dumps(row) + "\n")
    return row


def main(quick: bool = False) -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    train_tokens, held = data()
    scale = 0.02 if quick else 1.0
    sweep = [train(s, int(SWEEP_TOKENS * scale), train_tokens, held) for s in SIZES]
    iso = []
    for s in ISO_SIZES:
        n = non_embedding_params(LlamaForCausalLM(config(*s)))
        iso.append(train(s, int(ISO_C * scale / (6 * n)), train_tokens, held))
    result = {
        "machine": f"{platform.processor() or platform.machine()}, 1 torch thread",
        "torch": torch.__version__,
        "context": CTX,
        "batch": BATCH,
        "vocab": VOCAB,
        "held_out": HELD_OUT,
        "sweep_tokens": SWEEP_TOKENS,
        "iso_compute": ISO_C,
        "sweep": sweep,
        "isoflop": iso,
        "seconds": time.perf_counter() - start,
    }
    if not quick:
        OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['seconds']:.0f} s")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
