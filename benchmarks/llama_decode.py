"""Decode speed on SmolLM2-135M weights: reference with KV cache vs full recomputation vs HF generate.

Run: .venv/bin/python benchmarks/llama_decode.py [--tokens 256] [--device cpu|cuda]
Baseline named in the ratios: Hugging Face `generate` (KV cache, greedy) on the same weights.
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

from course.llama import weights as smollm2  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=256)  # the "at 256 tokens" target
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    from transformers import LlamaForCausalLM

    path = smollm2.gguf_path()
    ours = smollm2.load_model().to(device)
    hf = (
        LlamaForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, torch_dtype=torch.float32
        )
        .eval()
        .to(device)
    )
    tok = smollm2.tokenizer()
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Tell me a long story about a GPU."}],
        add_generation_prompt=True,
        return_tensors="pt",
    )
    ids = (prompt if isinstance(prompt, torch.Tensor) else prompt["input_ids"]).to(device)
    n = args.tokens

    def timed(fn):
        fn(8)  # warm-up
        sync(device)
        start = time.perf_counter()
        fn(n)
        sync(device)
        return n / (time.perf_counter() - start)

    with torch.no_grad():
        # Interleave the two fast runs (median of 3 rounds) so drift hits both equally.
        fast = {"cached": [], "hf": []}
        for _ in range(3):
            fast["cached"].append(timed(lambda k: ours.generate(ids, k, use_cache=True)))
            fast["hf"].append(
                timed(
                    lambda k: hf.generate(
                        ids,
                        max_new_tokens=k,
                        min_new_tokens=k,
                        do_sample=False,
                        attention_mask=torch.ones_like(ids),
                    )
                )
            )
        cached, hf_tps = statistics.median(fast["cached"]), statistics.median(fast["hf"])
        recompute = timed(lambda k: ours.generate(ids, k, use_cache=False))
    rows = [
        ["reference, KV cache", f"{cached:.1f}", f"{cached / hf_tps:.2f}"],
        ["reference, recompute prefix", f"{recompute:.1f}", f"{recompute / hf_tps:.2f}"],
        ["Hugging Face generate (baseline)", f"{hf_tps:.1f}", "1.00"],
    ]
    write(
        f"llama_decode{'_cuda' if device.type == 'cuda' else ''}.json",
        ["implementation", f"tokens/s ({n} new tokens, fp32, median of 3)", "ratio to HF"],
        rows,
        cache_speedup_vs_recompute=round(cached / recompute, 2),
        prompt_tokens=int(ids.shape[1]),
    )


if __name__ == "__main__":
    main()
