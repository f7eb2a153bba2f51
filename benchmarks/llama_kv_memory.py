"""KV-cache memory: bytes the reference cache allocates vs 2*B*L*H*D*P*N (and CUDA allocator growth).

Run: .venv/bin/python benchmarks/llama_kv_memory.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course.llama import KVCache, LlamaConfig, LlamaForCausalLM, kv_cache_bytes  # noqa: E402


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for heads, kv in ((8, 8), (8, 2), (8, 1)):
        cfg = LlamaConfig(
            vocab_size=256,
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=4,
            num_attention_heads=heads,
            num_key_value_heads=kv,
        )
        model = LlamaForCausalLM(cfg).eval().to(device)
        for batch, length in ((1, 512), (4, 1024)):
            cache = KVCache(cfg.num_hidden_layers)
            if device == "cuda":
                torch.cuda.synchronize()
                before = torch.cuda.memory_allocated()
            with torch.no_grad():
                model(torch.randint(0, 256, (batch, length), device=device), cache)
            measured = sum(t.numel() * t.element_size() for t in cache.k + cache.v)
            formula = kv_cache_bytes(batch, length, kv, cfg.head_dim, 4, cfg.num_hidden_layers)
            alloc = (torch.cuda.memory_allocated() - before) if device == "cuda" else None
            rows.append(
                [
                    f"H={heads}, G={kv}",
                    batch,
                    length,
                    measured,
                    formula,
                    f"{measured / formula:.3f}",
                    alloc if alloc is not None else "n/a",
                ]
            )
    write(
        f"llama_kv_memory{'_cuda' if device == 'cuda' else ''}.json",
        [
            "attention",
            "B",
            "L",
            "cache bytes (measured)",
            "2*B*L*H*D*P*N",
            "ratio",
            "CUDA allocated after prefill",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
