"""Attention cost against sequence length, and the course's MiniLM encoder against Hugging Face.

Run: .venv/bin/python benchmarks/bert_gpt_attention.py [--max-t 4096] [--rounds 5] [--threads 1]

1. One attention call, B=1, H=8 heads of 64, float32, causal, for T = 256 ... max_t:
   - naive: softmax(QK^T / sqrt(d)) V with the (T, T) score matrix materialised (the course's
     reference ``scaled_dot_product_attention``, which also builds a (T, T) boolean mask);
   - torch SDPA: ``F.scaled_dot_product_attention(..., is_causal=True)`` (the baseline).
   Time: median of ``rounds`` calls after one warm-up. Peak memory: each (method, T) runs in a fresh
   process, and the growth of the process's peak resident set (ru_maxrss) during one call is
   recorded, next to the size of one float32 (H, T, T) score tensor.
2. all-MiniLM-L6-v2 on one batch (32 sentences of Shakespeare, padded to the longest): the course's
   ``BertModel`` (explicit attention), the same with torch's fused attention swapped in
   (``use_fused_attention``), and Hugging Face's ``BertModel`` (its default SDPA attention), all
   with the same weights, under ``torch.inference_mode``. Ratios are against Hugging Face.
3. The Triton tiled-attention kernel is timed only on a GPU (on a CPU it runs in Triton's
   interpreter, which measures Python, not the kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, math, resource, statistics, sys, time
import torch
import torch.nn.functional as F
from course import bert_gpt as ref

method, t, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(int(sys.argv[4]))
torch.manual_seed(0)
q, k, v = (torch.randn(1, 8, t, 64) for _ in range(3))

def call():
    if method == "naive":
        return ref.scaled_dot_product_attention(q, k, v, causal=True)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)

with torch.inference_mode():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    call()  # warm-up, and the peak of one call
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
print(json.dumps({"seconds": statistics.median(times), "peak_mib": peak_kib / 1024}))
"""


def attention_rows(max_t: int, rounds: int, threads: int) -> list[list]:
    rows = []
    t = 256
    while t <= max_t:
        result = {}
        for method in ("naive", "sdpa"):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, method, str(t), str(rounds), str(threads)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            result[method] = json.loads(out.stdout.strip().splitlines()[-1])
        scores_mib = 8 * t * t * 4 / 2**20
        rows.append(
            [
                t,
                round(result["naive"]["seconds"] * 1e3, 2),
                round(result["sdpa"]["seconds"] * 1e3, 2),
                round(result["naive"]["seconds"] / result["sdpa"]["seconds"], 2),
                round(result["naive"]["peak_mib"], 1),
                round(result["sdpa"]["peak_mib"], 1),
                round(scores_mib, 1),
            ]
        )
        print(rows[-1], flush=True)
        t *= 2
    return rows


def encoder_rows(rounds: int) -> tuple[list[list], dict]:
    import torch
    from transformers import BertModel
    from transformers.utils import logging

    from course import bert_gpt as ref
    from course.tokenization import corpora

    logging.set_verbosity_error()
    lines = [
        s.strip()
        for s in corpora.shakespeare_plays()["hamlet"].splitlines()
        if len(s.split()) > 5 and not s.startswith("**")
    ][:32]
    course, tok = ref.load_minilm()
    fused, _ = ref.load_minilm()
    ref.use_fused_attention(fused)
    hf = BertModel.from_pretrained(str(ref.minilm_dir())).eval()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(lines)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    types = torch.zeros_like(ids)
    runs = {
        "course BertModel (explicit attention)": lambda: course(ids, types, mask),
        "course BertModel, torch fused attention": lambda: fused(ids, types, mask),
        "Hugging Face BertModel (baseline)": lambda: (
            hf(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        ),
    }
    times = {}
    with torch.inference_mode():
        outs = {name: fn() for name, fn in runs.items()}  # warm-up
        for name, fn in runs.items():
            ts = []
            for _ in range(rounds):
                start = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - start)
            times[name] = statistics.median(ts)
    base = times["Hugging Face BertModel (baseline)"]
    want = outs["Hugging Face BertModel (baseline)"]
    keep = mask.bool()
    rows = [
        [
            name,
            round(s * 1e3, 1),
            round(base / s, 2),
            f"{(outs[name][keep] - want[keep]).abs().max().item():.1e}",
        ]
        for name, s in times.items()
    ]
    return rows, {"batch": list(ids.shape), "real_tokens": int(mask.sum())}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--max-t", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    attn = attention_rows(args.max_t, args.rounds, args.threads)
    enc, batch = encoder_rows(args.rounds)
    write(
        "bert_gpt_attention.json",
        [
            "T",
            "naive ms",
            "torch SDPA ms",
            "naive / SDPA time",
            "naive peak MiB",
            "SDPA peak MiB",
            "one (H, T, T) float32 score tensor, MiB",
        ],
        attn,
        encoder_columns=["MiniLM encoder", "ms per batch", "speed vs Hugging Face", "max abs diff"],
        encoder_rows=enc,
        encoder_batch=batch,
        attention_shape="B=1, H=8, Dh=64, float32, causal",
        rounds=args.rounds,
        gpu_note="GPU figures were not measured (no GPU on this machine); the Triton kernel is "
        "only timed on a GPU.",
        seconds_total=round(time.perf_counter() - start, 1),
        load_average=[round(load_before, 1), round(os.getloadavg()[0], 1)],
    )


if __name__ == "__main__":
    main()
