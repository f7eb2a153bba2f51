"""Published LLaMA configurations: the catalogue of released models the book's tables read.

Every architectural number comes from the model's released configuration (Meta's ``params.json``:
``dim``, ``n_layers``, ``n_heads``, ``n_kv_heads``, ``multiple_of``, ``ffn_dim_multiplier``), and
the feed-forward size is *derived* from it with Meta's own rule (:func:`ffn_hidden_size`), never
typed in. Training facts (tokens, peak learning rate, context) come from the papers: LLaMA 1
(Touvron et al., 2023a, Tables 1-2), Llama 2 (Touvron et al., 2023b, Table 1), Llama 3 / 3.1
(Llama Team, 2024, Table 3: its peak learning rates 3e-4 / 1.5e-4 / 8e-5 are for 8B / 70B / 405B)
and the Llama 3.2 model card. Where a number was not published it is ``None`` and the book prints a
dash. ``vocab_size`` is the number of embedding rows in the released checkpoints (Llama 3: 128,256,
i.e. the paper's 128K vocabulary plus 256 reserved special tokens).

Names follow Hugging Face's ``LlamaConfig`` (``hidden_size``, ``num_hidden_layers``,
``num_attention_heads``, ``num_key_value_heads``, ``head_dim``, ``intermediate_size``,
``vocab_size``); the short names used by the first version of the book (``d_model``, ``layers``,
``heads``, ``kv_heads``, ``ffn``, ``vocab``) remain as read-only aliases.
"""

from __future__ import annotations

from dataclasses import dataclass

from course.llama.blocks import kv_cache_bytes  # the one definition (also this module's name)


def ffn_hidden_size(hidden_size: int, multiple_of: int, ffn_dim_multiplier: float | None) -> int:
    """SwiGLU hidden size F, exactly as Meta's reference code computes it.

    F = int(2/3 * 4d); then F = int(multiplier * F) if a multiplier is given; then F is rounded
    *up* to a multiple of ``multiple_of``. Llama-2-70B: d = 8192, multiplier 1.3, multiple_of 4096
    -> int(21845 * 1.3) = 28398 -> 28,672 (Touvron et al. 2023b, A.2.1: widened to offset GQA).
    """
    hidden = int(2 * (4 * hidden_size) / 3)
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


@dataclass(frozen=True)
class Spec:
    """One released model: its configuration (HF names) plus published training facts."""

    name: str
    family: str
    params_b: float  # as published (the papers' rounded size)
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    multiple_of: int
    ffn_dim_multiplier: float | None
    context: int
    tokens_t: float | None
    peak_lr: float | None
    vocab_size: int
    rope_theta: float
    tie_word_embeddings: bool = False
    note: str = ""

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def intermediate_size(self) -> int:
        """FFN size derived from the config (:func:`ffn_hidden_size`)."""
        return ffn_hidden_size(self.hidden_size, self.multiple_of, self.ffn_dim_multiplier)

    # Aliases kept for the first version of the book and for short table code.
    @property
    def d_model(self) -> int:
        return self.hidden_size

    @property
    def layers(self) -> int:
        return self.num_hidden_layers

    @property
    def heads(self) -> int:
        return self.num_attention_heads

    @property
    def kv_heads(self) -> int:
        return self.num_key_value_heads

    @property
    def ffn(self) -> int:
        return self.intermediate_size

    @property
    def vocab(self) -> int:
        return self.vocab_size

    def parameter_count(self) -> int:
        """Parameters implied by the config: embeddings, attention, SwiGLU, RMSNorm weights.

        Per layer: q and o are d x (H * Dh); k and v are d x (G * Dh); gate, up and down are
        d x F; two RMSNorm weights of d. Plus the embedding (V x d), the final norm (d) and the
        output head (V x d) unless it is tied to the embedding.
        """
        d, dh, f = self.hidden_size, self.head_dim, self.intermediate_size
        attn = 2 * d * self.num_attention_heads * dh + 2 * d * self.num_key_value_heads * dh
        per_layer = attn + 3 * d * f + 2 * d
        head = 0 if self.tie_word_embeddings else self.vocab_size * d
        return self.num_hidden_layers * per_layer + self.vocab_size * d + d + head

    def kv_bytes(self, seq_len: int, batch: int = 1, bytes_per: int = 2) -> int:
        return kv_cache_bytes(
            batch, seq_len, self.num_key_value_heads, self.head_dim, bytes_per,
            self.num_hidden_layers,
        )  # fmt: skip


_L1 = dict(family="LLaMA 1", context=2048, vocab_size=32000, rope_theta=1e4, multiple_of=256)
_L2 = dict(family="Llama 2", context=4096, vocab_size=32000, rope_theta=1e4, tokens_t=2.0)
_L3 = dict(family="Llama 3", context=8192, vocab_size=128256, rope_theta=5e5, tokens_t=15.0)
_L31 = dict(family="Llama 3.1", context=131072, vocab_size=128256, rope_theta=5e5)
_L32 = dict(family="Llama 3.2", context=131072, vocab_size=128256, rope_theta=5e5)

SPECS = [
    # name, params, d, layers, heads, kv heads, multiple_of / multiplier, tokens (T), peak LR
    Spec("LLaMA-7B", params_b=6.7, hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
         num_key_value_heads=32, ffn_dim_multiplier=None, tokens_t=1.0, peak_lr=3.0e-4, **_L1),
    Spec("LLaMA-13B", params_b=13.0, hidden_size=5120, num_hidden_layers=40,
         num_attention_heads=40, num_key_value_heads=40, ffn_dim_multiplier=None, tokens_t=1.0,
         peak_lr=3.0e-4, **_L1),
    Spec("LLaMA-33B", params_b=32.5, hidden_size=6656, num_hidden_layers=60,
         num_attention_heads=52, num_key_value_heads=52, ffn_dim_multiplier=None, tokens_t=1.4,
         peak_lr=1.5e-4, **_L1),
    Spec("LLaMA-65B", params_b=65.2, hidden_size=8192, num_hidden_layers=80,
         num_attention_heads=64, num_key_value_heads=64, ffn_dim_multiplier=None, tokens_t=1.4,
         peak_lr=1.5e-4, **_L1),
    Spec("Llama-2-7B", params_b=7.0, hidden_size=4096, num_hidden_layers=32,
         num_attention_heads=32, num_key_value_heads=32, multiple_of=256, ffn_dim_multiplier=None,
         peak_lr=3.0e-4, **_L2),
    Spec("Llama-2-13B", params_b=13.0, hidden_size=5120, num_hidden_layers=40,
         num_attention_heads=40, num_key_value_heads=40, multiple_of=256, ffn_dim_multiplier=None,
         peak_lr=3.0e-4, **_L2),
    Spec("Llama-2-34B", params_b=34.0, hidden_size=8192, num_hidden_layers=48,
         num_attention_heads=64, num_key_value_heads=8, multiple_of=256, ffn_dim_multiplier=1.0,
         peak_lr=1.5e-4, note="not released; shape from Code Llama 34B, which was trained from it",
         **_L2),
    Spec("Llama-2-70B", params_b=70.0, hidden_size=8192, num_hidden_layers=80,
         num_attention_heads=64, num_key_value_heads=8, multiple_of=4096, ffn_dim_multiplier=1.3,
         peak_lr=1.5e-4, **_L2),
    Spec("Llama-3-8B", params_b=8.0, hidden_size=4096, num_hidden_layers=32,
         num_attention_heads=32, num_key_value_heads=8, multiple_of=1024, ffn_dim_multiplier=1.3,
         peak_lr=3.0e-4, **_L3),
    Spec("Llama-3-70B", params_b=70.0, hidden_size=8192, num_hidden_layers=80,
         num_attention_heads=64, num_key_value_heads=8, multiple_of=4096, ffn_dim_multiplier=1.3,
         peak_lr=1.5e-4, **_L3),
    Spec("Llama-3.1-8B", params_b=8.0, hidden_size=4096, num_hidden_layers=32,
         num_attention_heads=32, num_key_value_heads=8, multiple_of=1024, ffn_dim_multiplier=1.3,
         tokens_t=15.0, peak_lr=3.0e-4, **_L31),
    Spec("Llama-3.1-70B", params_b=70.0, hidden_size=8192, num_hidden_layers=80,
         num_attention_heads=64, num_key_value_heads=8, multiple_of=4096, ffn_dim_multiplier=1.3,
         tokens_t=15.0, peak_lr=1.5e-4, **_L31),
    Spec("Llama-3.1-405B", params_b=405.0, hidden_size=16384, num_hidden_layers=126,
         num_attention_heads=128, num_key_value_heads=8, multiple_of=4096, ffn_dim_multiplier=1.2,
         tokens_t=15.6, peak_lr=8.0e-5, **_L31),
    Spec("Llama-3.2-1B", params_b=1.23, hidden_size=2048, num_hidden_layers=16,
         num_attention_heads=32, num_key_value_heads=8, multiple_of=256, ffn_dim_multiplier=1.5,
         tokens_t=9.0, peak_lr=None, tie_word_embeddings=True, **_L32),
    Spec("Llama-3.2-3B", params_b=3.21, hidden_size=3072, num_hidden_layers=28,
         num_attention_heads=24, num_key_value_heads=8, multiple_of=256, ffn_dim_multiplier=1.0,
         tokens_t=9.0, peak_lr=None, tie_word_embeddings=True, **_L32),
]  # fmt: skip
BY_NAME = {s.name: s for s in SPECS}
FAMILIES = ["LLaMA 1", "Llama 2", "Llama 3", "Llama 3.1", "Llama 3.2"]
