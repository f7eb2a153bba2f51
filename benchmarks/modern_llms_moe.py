"""MoE dispatch, sliding-window decoding and KV-cache bytes, for chapter 07-modern-llms.

Run: .venv/bin/python benchmarks/modern_llms_moe.py [--tokens 1024] [--rounds 3]

1. MoE dispatch (hidden 256, expert SwiGLU 512, float32): tokens per second of one MoE layer's
   forward for three strategies computing the same output, at several expert counts and top-k:
   - loop: for each expert, gather its tokens with ``torch.where(indices == e)`` (the reference,
     ``course.modern_llms.MoE``, as Hugging Face's Mixtral);
   - grouped: sort the (token, slot) pairs by expert once, then one contiguous slice per expert;
   - dense: every expert on every token, weighted by the (mostly zero) gate matrix.
   The baseline of each ratio is the loop, measured in the same run.
2. Decoding with a window: time per decoded token of a small LLaMA (4 layers, hidden 256) whose
   cache already holds n tokens, with the full cache vs the rolling cache of a window of 256
   (``course.modern_llms.SlidingWindowLlamaForCausalLM``); the cache bytes each holds.
3. KV-cache bytes per token measured on the modules' caches == the formula, for MHA/GQA/MQA/MLA.
Medians of ``--rounds`` rounds after one warm-up, in CPU seconds of this process (the strategies
interleaved in every round), on one thread, because the machine running the book is shared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course import llama  # noqa: E402
from course import modern_llms as ml  # noqa: E402


def timed(fns: dict, rounds: int, warmup: int = 1) -> dict[str, float]:
    """Median CPU seconds of this process per call, the functions interleaved in every round.

    The machine is shared: wall-clock times of one process swing with the other processes' load,
    while CPU time counts only the work done here; interleaving exposes every function to the
    same conditions.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


class GroupedMoE(ml.MoE):
    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        logits, weights, indices = self.route(flat)
        k = indices.shape[1]
        order = indices.reshape(-1).argsort(stable=True)
        tokens = torch.arange(flat.shape[0]).repeat_interleave(k)[order]
        w = weights.reshape(-1)[order].to(flat.dtype)
        counts = torch.bincount(indices.reshape(-1), minlength=self.num_experts).tolist()
        out = torch.zeros_like(flat)
        start = 0
        for e, n in enumerate(counts):
            if n:
                idx = tokens[start : start + n]
                out.index_add_(0, idx, self.experts[e](flat[idx]) * w[start : start + n, None])
            start += n
        return out.reshape(x.shape), logits


class DenseMoE(ml.MoE):
    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        logits, weights, indices = self.route(flat)
        gates = torch.zeros_like(logits).scatter(1, indices, weights).to(flat.dtype)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            out += gates[:, e, None] * expert(flat)
        return out.reshape(x.shape), logits


def moe_dispatch(tokens: int, rounds: int) -> list[list]:
    rows = []
    x = torch.randn(1, tokens, 256, generator=torch.Generator().manual_seed(0))
    for e, k in [(8, 1), (8, 2), (32, 2), (32, 8), (64, 4)]:
        torch.manual_seed(0)
        ref = ml.MoE(256, 512, e, k).eval()
        mods = {
            "loop": ref,
            "grouped": GroupedMoE(256, 512, e, k),
            "dense": DenseMoE(256, 512, e, k),
        }
        for m in mods.values():
            m.load_state_dict(ref.state_dict())
        with torch.no_grad():
            want = ref(x)[0]
            for m in mods.values():
                torch.testing.assert_close(m(x)[0], want, atol=1e-4, rtol=1e-4)
            secs = timed({name: (lambda m=m: m(x)) for name, m in mods.items()}, rounds)
        rows.append(
            [
                e,
                k,
                *(round(tokens / secs[n]) for n in mods),
                *(secs["loop"] / secs[n] for n in mods),
            ]
        )
        print(rows[-1], flush=True)
    return rows


def window_decode(rounds: int, window: int = 256, steps: int = 8) -> list[list]:
    cfg = llama.LlamaConfig(
        vocab_size=512, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
        num_attention_heads=8, num_key_value_heads=2,
    )  # fmt: skip
    torch.manual_seed(0)
    full = ml.SlidingWindowLlamaForCausalLM(cfg, window=10**9, rolling=False).eval()
    windowed = ml.SlidingWindowLlamaForCausalLM(cfg, window=window, rolling=True).eval()
    windowed.load_state_dict(full.state_dict())
    g, dh, layers = cfg.num_key_value_heads, cfg.head_dim, cfg.num_hidden_layers
    ids = torch.randint(0, 512, (1, steps))
    rows = []
    for n in [256, 1024, 4096, 16384]:
        kv = torch.randn(layers, 2, 1, g, n, dh)

        def full_cache(kv=kv):
            c = llama.KVCache(layers)
            for i in range(layers):
                c.k[i], c.v[i] = kv[i, 0].clone(), kv[i, 1].clone()
            return c

        def rolling_cache(kv=kv, n=n):
            c = ml.RollingKVCache(layers, window)
            for i in range(layers):  # positions n - window .. n - 1 in slots p % window
                slots = torch.arange(n - window, n) % window
                c.k[i] = torch.zeros(1, g, window, dh).index_copy(
                    2, slots, kv[i, 0, :, :, -window:]
                )
                c.v[i] = torch.zeros(1, g, window, dh).index_copy(
                    2, slots, kv[i, 1, :, :, -window:]
                )
                c.seen[i] = n
            return c

        def decode(model, cache):
            for s in range(steps):
                model(ids[:, s : s + 1], cache)
            return cache

        runs = {"full": (full, full_cache), "window": (windowed, rolling_cache)}
        times: dict[str, list[float]] = {name: [] for name in runs}
        with torch.no_grad():
            for r in range(rounds + 1):  # round 0 warms up; caches are built outside the timing
                for name, (model, make) in runs.items():
                    cache = make()
                    t0 = time.process_time()
                    decode(model, cache)
                    if r:
                        times[name].append(time.process_time() - t0)
            t_full = statistics.median(times["full"]) / steps
            t_win = statistics.median(times["window"]) / steps
            c_full, c_win = decode(full, full_cache()), decode(windowed, rolling_cache())
        bytes_full = sum(t.numel() * t.element_size() for t in c_full.k + c_full.v)
        bytes_win = sum(t.numel() * t.element_size() for t in c_win.k + c_win.v)
        rows.append([n, t_full * 1e3, t_win * 1e3, t_full / t_win, bytes_full, bytes_win])
        print(rows[-1], flush=True)
    return rows


def cache_bytes_measured() -> list[list]:
    """Bytes the modules' caches hold after T tokens, per token, vs the formula (float32)."""
    torch.manual_seed(0)
    t, rows = 7, []
    x = torch.randn(1, t, 64)
    for name, heads, kv in [("MHA", 8, 8), ("GQA", 8, 2), ("MQA", 8, 1)]:
        cfg = llama.LlamaConfig(hidden_size=64, num_attention_heads=heads, num_key_value_heads=kv)
        cache = llama.KVCache(1)
        cos, sin = llama.rope_cos_sin(8, torch.arange(t)[None])
        llama.LlamaAttention(cfg)(x, cos, sin, llama.causal_mask(t, t), cache)
        held = sum(c.numel() * c.element_size() for c in (cache.k[0], cache.v[0])) // t
        rows.append([name, held, ml.cache_bytes_per_token(name.lower(), 1, kv, 8, bytes_per=4)])
    mla = ml.MultiHeadLatentAttention(64, 8, 24, 16, 8, 4, 8)
    cache: list[torch.Tensor] = []
    cos, sin = llama.rope_cos_sin(4, torch.arange(t)[None])
    mla(x, cos, sin, llama.causal_mask(t, t), cache)
    held = cache[0].numel() * cache[0].element_size() // t
    rows.append(["MLA", held, ml.cache_bytes_per_token("mla", 1, 0, 0, 16, 4, bytes_per=4)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # One thread: with other processes on the machine, idle OpenMP workers spin and their waiting
    # would be counted as CPU time; one thread measures the work itself.
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    moe = moe_dispatch(args.tokens, args.rounds)
    window = window_decode(args.rounds)
    measured = cache_bytes_measured()
    assert all(row[1] == row[2] for row in measured), measured
    write(
        "modern_llms_moe.json",
        ["experts", "top_k", "loop tok/s", "grouped tok/s", "dense tok/s",
         "loop x", "grouped x", "dense x"],
        moe,
        tokens=args.tokens,
        window_columns=["cached tokens", "full ms/token", "window ms/token", "speed-up",
                        "full cache bytes", "window cache bytes"],
        window_rows=window,
        window=256,
        cache_columns=["attention", "measured bytes/token", "formula bytes/token"],
        cache_rows=measured,
        seconds=round(time.perf_counter() - t0, 1),
    )  # fmt: skip


if __name__ == "__main__":
    main()
