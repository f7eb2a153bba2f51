"""Published LLaMA configurations (facts from the papers, as tabulated in the lecture notes).

Sources: LLaMA 1 (Touvron et al., 2023a, Tables 1-2), Llama 2 (Touvron et al., 2023b, Table 1),
Llama 3 (Llama Team, 2024, Table 3). Bytes of KV cache follow 2 * B * L * G * Dh * P * N.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    name: str
    family: str
    params_b: float
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    context: int
    tokens_t: float
    peak_lr: float
    vocab: int
    rope_theta: float
    ffn: int | None = None

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    def kv_bytes(self, seq_len: int, batch: int = 1, bytes_per: int = 2) -> int:
        return 2 * batch * seq_len * self.kv_heads * self.head_dim * bytes_per * self.layers


SPECS = [
    Spec("LLaMA-7B", "LLaMA 1", 6.7, 32, 4096, 32, 32, 2048, 1.0, 3.0e-4, 32000, 1e4, 11008),
    Spec("LLaMA-13B", "LLaMA 1", 13.0, 40, 5120, 40, 40, 2048, 1.0, 3.0e-4, 32000, 1e4, 13824),
    Spec("LLaMA-33B", "LLaMA 1", 32.5, 60, 6656, 52, 52, 2048, 1.4, 1.5e-4, 32000, 1e4, 17920),
    Spec("LLaMA-65B", "LLaMA 1", 65.2, 80, 8192, 64, 64, 2048, 1.4, 1.5e-4, 32000, 1e4, 22016),
    Spec("Llama-2-7B", "Llama 2", 7.0, 32, 4096, 32, 32, 4096, 2.0, 3.0e-4, 32000, 1e4, 11008),
    Spec("Llama-2-13B", "Llama 2", 13.0, 40, 5120, 40, 40, 4096, 2.0, 3.0e-4, 32000, 1e4, 13824),
    Spec("Llama-2-70B", "Llama 2", 70.0, 80, 8192, 64, 8, 4096, 2.0, 1.5e-4, 32000, 1e4, 28672),
    Spec("Llama-3-8B", "Llama 3", 8.0, 32, 4096, 32, 8, 8192, 15.0, 3.0e-4, 128000, 5e5, 14336),
    Spec("Llama-3-70B", "Llama 3", 70.0, 80, 8192, 64, 8, 8192, 15.0, 1.5e-4, 128000, 5e5, 28672),
    Spec(
        "Llama-3.1-405B",
        "Llama 3",
        405.0,
        126,
        16384,
        128,
        8,
        131072,
        15.6,
        8.0e-5,
        128000,
        5e5,
        53248,
    ),
]
BY_NAME = {s.name: s for s in SPECS}
