"""Model FLOPs utilisation (MFU) of a training step of the course's reference decoder (the LLaMA
blocks of chapter 3, the architecture of the chapter's CPU sweep), against the measured peak of
this device.

Run: .venv/bin/python benchmarks/scaling_mfu.py   (about a minute on 2 CPU cores)

Baseline: the device's achieved peak, a large square float32 matmul (2 n^3 FLOPs, n = 2048 on CPU,
8192 on CUDA), timed in the same run. For each model size: the median time of a training step
(forward, backward, AdamW) over 5 rounds after 2 warm-up steps, with synchronisation on CUDA;
MFU = 6 N T / time / peak, N non-embedding parameters, T tokens per step; also the utilisation
counting every matmul the step runs (attention and output layer included). GPU figures are
measured only where a GPU is present.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course.llama import LlamaConfig, LlamaForCausalLM  # noqa: E402

SIZES = [(64, 3, 4), (128, 4, 4), (256, 4, 8), (512, 6, 8)]  # (d, layers, heads)
BATCH, CTX, VOCAB = 8, 128, 256


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn, device: str, rounds: int = 5, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_flops(device: str) -> float:
    n = 8192 if device == "cuda" else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / median_seconds(lambda: a @ b, device)


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    peak = peak_flops(device)
    rows = []
    for d, layers, heads in SIZES:
        cfg = LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=d,
            intermediate_size=int(8 * d / 3 + 7) // 8 * 8,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=CTX,
        )
        torch.manual_seed(0)
        model = LlamaForCausalLM(cfg).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        ids = torch.randint(0, VOCAB, (BATCH, CTX + 1), device=device)
        x, y = ids[:, :-1], ids[:, 1:]

        def step(model=model, opt=opt, x=x, y=y):
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        seconds = median_seconds(step, device)
        skip = {"model.embed_tokens.weight", "lm_head.weight"}
        n = sum(p.numel() for k, p in model.named_parameters() if k not in skip)
        f = cfg.intermediate_size
        matmul_n = layers * (4 * d * d + 3 * d * f)  # q, k, v, o and gate, up, down
        tokens = BATCH * CTX
        every = 3 * tokens * (2 * matmul_n + 4 * layers * CTX * d + 2 * d * VOCAB)
        rows.append(
            [
                f"d={d}, {layers} layers",
                n,
                round(seconds * 1e3, 2),
                round(6 * n * tokens / seconds / 1e9, 2),
                round(6 * n * tokens / seconds / peak, 4),
                round(every / seconds / peak, 4),
            ]
        )
    write(
        "scaling_mfu.json",
        [
            "model",
            "non-embedding N",
            "step (ms)",
            "model GFLOP/s (6NT)",
            "MFU (6NT / peak)",
            "utilisation, every matmul",
        ],
        rows,
        peak_gflops=round(peak / 1e9, 2),
        baseline=f"{'8192' if device == 'cuda' else '2048'}^3 float32 matmul (measured peak)",
        batch=BATCH,
        context=CTX,
    )


if __name__ == "__main__":
    main()
