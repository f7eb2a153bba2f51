"""Length generalisation of RoPE, NoPE and interleaved RoPE/NoPE on tiny byte-level models.

Three 4-layer decoder-only models built from the course's LLaMA blocks (chapter 3) and the NoPE
variant of chapter 7 (``course.modern_llms.NoPELlamaForCausalLM``), identical but for positions:

* ``rope``: every layer rotates queries and keys (plain LLaMA);
* ``nope``: no layer does (``interval=1``: every layer is a NoPE layer);
* ``interleaved``: SmolLM3's rule, every 4th layer NoPE (``interval=4``: layer 3 of 0..3).

Each is trained on Shakespeare bytes (all plays but Hamlet) with a context of ``CTX`` = 64 tokens
and the same token budget, twice (seeds 0 and 1; for one seed the three variants share their
initial weights and data order), then evaluated on held-out Hamlet windows of
``EVAL_MULT * CTX`` tokens. With a causal mask the loss at position p depends only on tokens 0..p,
so one pass over long windows gives the per-position loss for every shorter length too: the mean
over the first 64, 128, 256, 512 positions is the loss at 1x, 2x, 4x, 8x the training length.

Run: .venv/bin/python experiments/modern_llms_nope.py   (about 5 minutes on one idle CPU thread;
the page prints the time the run took here). ``--quick`` runs a few steps and writes nothing.
Writes book/_static/modern_llms_nope.json, which book/07-modern-llms/sliding-window.md reads.
Seeds are fixed, so a rerun reproduces the losses within run-to-run noise of the CPU kernels.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from course.llama import LlamaConfig, LlamaForCausalLM
from course.modern_llms import NoPELlamaForCausalLM
from course.tokenization import corpora

OUT = Path(__file__).resolve().parents[1] / "book" / "_static" / "modern_llms_nope.json"
HELD_OUT = "hamlet"
CTX = 64
BATCH = 32
STEPS = 600
SEEDS = (0, 1)  # two seeds per variant, to show the run-to-run spread
LR = 3e-3
HIDDEN, LAYERS, HEADS = 64, 4, 4
EVAL_MULT = 8  # evaluate on windows of 8 x CTX tokens
EVAL_WINDOWS = 192
VARIANTS = {"rope": None, "nope": 1, "interleaved": 4}  # NoPE interval (None: plain LLaMA)


def config() -> LlamaConfig:
    return LlamaConfig(
        vocab_size=256,
        hidden_size=HIDDEN,
        intermediate_size=int(8 * HIDDEN / 3 + 7) // 8 * 8,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=CTX * EVAL_MULT,
        tie_word_embeddings=False,
    )


def build(interval: int | None) -> torch.nn.Module:
    if interval is None:
        return LlamaForCausalLM(config())
    return NoPELlamaForCausalLM(config(), interval)


def data() -> tuple[torch.Tensor, torch.Tensor]:
    train = corpora.shakespeare_text(exclude=(HELD_OUT,)).encode("utf-8")
    held = corpora.shakespeare_plays()[HELD_OUT].encode("utf-8")
    return (
        torch.frombuffer(bytearray(train), dtype=torch.uint8).long(),
        torch.frombuffer(bytearray(held), dtype=torch.uint8).long(),
    )


def windows(tokens: torch.Tensor, n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    start = torch.randint(0, len(tokens) - length - 1, (n,), generator=gen)
    return tokens[start[:, None] + torch.arange(length + 1)]


@torch.no_grad()
def per_position_loss(model: torch.nn.Module, held: torch.Tensor) -> list[float]:
    """Mean held-out cross-entropy (nats) at each position 0..EVAL_MULT*CTX-1."""
    gen = torch.Generator().manual_seed(1234)  # the same windows for every model
    x = windows(held, EVAL_WINDOWS, CTX * EVAL_MULT, gen)
    model.eval()
    total = torch.zeros(CTX * EVAL_MULT)
    for chunk in x.split(16):
        logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")
        total += loss.sum(0)
    return (total / len(x)).tolist()


def train(name: str, interval: int | None, train_tokens, held, steps: int, seed: int) -> dict:
    torch.manual_seed(seed)
    model = build(interval)
    warmup = max(1, steps // 20)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / warmup)
            * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
        ),
    )
    gen = torch.Generator().manual_seed(
        seed + 1
    )  # for a given seed, the same batches for every variant
    t0 = time.perf_counter()
    for _ in range(steps):
        x = windows(train_tokens, BATCH, CTX, gen)
        loss = F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    seconds = time.perf_counter() - t0
    losses = per_position_loss(model, held)
    use_rope = getattr(model.model, "use_rope", [True] * LAYERS)
    row = {
        "name": name,
        "seed": seed,
        "rope_layers": [bool(r) for r in use_rope],
        "params": sum(p.numel() for p in model.parameters()),
        "train_loss": loss.item(),
        "per_position_loss": losses,
        "mean_loss": {f"{m}x": sum(losses[: m * CTX]) / (m * CTX) for m in (1, 2, 4, 8)},
        "seconds": seconds,
    }
    print(name, seed, json.dumps(row["mean_loss"]), f"{seconds:.0f} s", flush=True)
    return row


def main(quick: bool = False) -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    train_tokens, held = data()
    steps = 20 if quick else STEPS
    runs = [
        train(name, k, train_tokens, held, steps, seed)
        for seed in SEEDS
        for name, k in VARIANTS.items()
    ]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, 1 torch thread",
        "torch": torch.__version__,
        "context": CTX,
        "batch": BATCH,
        "steps": steps,
        "seeds": list(SEEDS),
        "tokens": steps * BATCH * CTX,
        "hidden": HIDDEN,
        "layers": LAYERS,
        "heads": HEADS,
        "held_out": HELD_OUT,
        "eval_windows": EVAL_WINDOWS,
        "eval_length": CTX * EVAL_MULT,
        "runs": runs,
        "seconds": time.perf_counter() - start,
    }
    if not quick:
        OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['seconds']:.0f} s")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
