"""Chapter 07-modern-llms' catalogue: released models' architectures, typed in with their sources.

The book's comparison table, figure and explorer read :data:`ARCHITECTURES`; cache sizes come from
the one formula of the blocks (:func:`~course.modern_llms.blocks.cache_bytes_per_token`).
"""

from __future__ import annotations

from dataclasses import dataclass

from course.modern_llms.blocks import cache_bytes_per_token


@dataclass(frozen=True)
class Arch:
    """One released model's architecture, from its published configuration and paper.

    ``total_b``/``active_b`` are the published parameter counts (billions). Sliding-window models
    have ``local_layers`` of their ``layers`` attending within ``window`` tokens (the others see the
    whole context); MLA models cache ``kv_lora_rank + rope_dim`` numbers per layer and token.
    """

    name: str
    cite: str
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    head_dim: int
    attention: str  # "MHA", "GQA", "MLA"
    norm: str  # "pre", "pre+post" (sandwich), "post" (OLMo 2: inside the branch)
    qk_norm: bool
    positions: str
    total_b: float
    active_b: float
    context: int
    experts: int = 0  # routed experts per MoE layer (0 = dense)
    active_experts: int = 0
    shared_experts: int = 0
    kv_lora_rank: int = 0
    rope_dim: int = 0
    window: int = 0
    local_layers: int = 0
    note: str = ""

    def bytes_per_layer_token(self, bytes_per: int = 2) -> int:
        """Cache bytes one token adds in one layer (the one formula: :func:`cache_bytes_per_token`)."""
        return cache_bytes_per_token(
            self.attention.lower(),
            1,
            self.kv_heads,
            self.head_dim,
            self.kv_lora_rank,
            self.rope_dim,
            bytes_per,
        )

    def cache_bytes(self, context: int, batch: int = 1, bytes_per: int = 2) -> int:
        """Whole-model cache at ``context`` tokens: windowed layers keep min(context, window)."""
        local = min(context, self.window) if self.window else context
        tokens = self.local_layers * local + (self.layers - self.local_layers) * context
        return batch * tokens * self.bytes_per_layer_token(bytes_per)


ARCHITECTURES: list[Arch] = [
    Arch("Llama 3.1 8B", "dubey2024llama3", 32, 4096, 32, 8, 128, "GQA", "pre", False,
         "RoPE (θ 500K)", 8.0, 8.0, 131072),
    Arch("Mistral 7B", "jiang2023mistral", 32, 4096, 32, 8, 128, "GQA", "pre", False, "RoPE",
         7.3, 7.3, 8192, window=4096, local_layers=32, note="rolling buffer cache"),
    Arch("Mixtral 8x7B", "jiang2024mixtral", 32, 4096, 32, 8, 128, "GQA", "pre", False, "RoPE",
         47, 13, 32768, experts=8, active_experts=2),
    Arch("Gemma 2 27B", "gemma2024gemma2", 46, 4608, 32, 16, 128, "GQA", "pre+post", False,
         "RoPE", 27, 27, 8192, window=4096, local_layers=23,
         note="local:global 1:1; logit soft-capping"),
    Arch("Gemma 3 27B", "gemma2025gemma3", 62, 5376, 32, 16, 128, "GQA", "pre+post", True,
         "RoPE (θ 10K local, 1M global)", 27, 27, 131072, window=1024, local_layers=52,
         note="local:global 5:1"),
    Arch("OLMo 2 13B", "olmo2024olmo2", 40, 5120, 40, 40, 128, "MHA", "post", True,
         "RoPE (θ 500K)", 13, 13, 4096),
    Arch("Qwen3-235B-A22B", "yang2025qwen3", 94, 4096, 64, 4, 128, "GQA", "pre", True, "RoPE",
         235, 22, 32768, experts=128, active_experts=8, note="131,072 with YaRN"),
    Arch("DeepSeek-V2", "deepseek2024v2", 60, 5120, 128, 128, 128, "MLA", "pre", False,
         "decoupled RoPE", 236, 21, 131072, experts=160, active_experts=6, shared_experts=2,
         kv_lora_rank=512, rope_dim=64),
    Arch("DeepSeek-V3", "deepseek2024v3", 61, 7168, 128, 128, 128, "MLA", "pre", False,
         "decoupled RoPE", 671, 37, 131072, experts=256, active_experts=8, shared_experts=1,
         kv_lora_rank=512, rope_dim=64, note="first 3 layers dense"),
    Arch("Kimi K2", "kimi2025k2", 61, 7168, 64, 64, 128, "MLA", "pre", False, "decoupled RoPE",
         1040, 32, 131072, experts=384, active_experts=8, shared_experts=1, kv_lora_rank=512,
         rope_dim=64, note="DeepSeek-V3 layout, half the heads"),
    Arch("Llama 4 Maverick", "meta2025llama4", 48, 5120, 40, 8, 128, "GQA", "pre", True,
         "RoPE; NoPE every 4th layer", 400, 17, 1048576, experts=128, active_experts=1,
         shared_experts=1, window=8192, local_layers=36,
         note="MoE in every other layer; RoPE layers attend in 8K chunks"),
    Arch("gpt-oss-120b", "openai2025gptoss", 36, 2880, 64, 8, 64, "GQA", "pre", False,
         "RoPE (YaRN)", 116.8, 5.1, 131072, experts=128, active_experts=4, window=128,
         local_layers=18, note="banded window 128 in every other layer; attention sinks"),
    Arch("SmolLM3 3B", "bakouch2025smollm3", 36, 2048, 16, 4, 128, "GQA", "pre", False,
         "RoPE; NoPE every 4th layer", 3.1, 3.1, 65536, note="131,072 with YaRN"),
]  # fmt: skip
BY_ARCH = {a.name: a for a in ARCHITECTURES}
