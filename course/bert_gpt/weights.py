"""Real checkpoints for chapter 01-bert-gpt: Hugging Face names -> course names, and the loaders.

all-MiniLM-L6-v2 (a BERT) and GPT-2 state dicts renamed for :class:`~course.bert_gpt.blocks.BertModel`
and :class:`~course.bert_gpt.blocks.GPT2`. The BERT renaming and the offline MiniLM folder live in
the student kit (``coursekit.weights``), which the notebooks use too; they are re-exported here.
"""

from __future__ import annotations

import torch
from torch import nn

from course.bert_gpt.blocks import BertModel, mean_pool
from coursekit.weights import bert_state_from_hf, minilm_dir  # noqa: F401  (re-exported)


def gpt2_state_from_hf(hf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face ``GPT2LMHeadModel`` state dict renamed for :class:`GPT2` (Conv1D weights are
    stored (in, out): transposed here)."""
    hf = {k.removeprefix("transformer."): v for k, v in hf.items()}
    out = {
        "wte.weight": hf["wte.weight"],
        "wpe.weight": hf["wpe.weight"],
        "lm_head.weight": hf["wte.weight"],
        "ln_f.weight": hf["ln_f.weight"],
        "ln_f.bias": hf["ln_f.bias"],
    }
    n = 1 + max(int(k.split(".")[1]) for k in hf if k.startswith("h."))
    for i in range(n):
        p, o = f"h.{i}.", f"layers.{i}."
        for src, dst, conv in (
            ("ln_1", "norm1", False),
            ("ln_2", "norm2", False),
            ("attn.c_attn", "self_attn.in_proj", True),
            ("attn.c_proj", "self_attn.out_proj", True),
            ("mlp.c_fc", "linear1", True),
            ("mlp.c_proj", "linear2", True),
        ):
            w, bias = hf[p + src + ".weight"], hf[p + src + ".bias"]
            if dst == "self_attn.in_proj":
                out[o + dst + "_weight"], out[o + dst + "_bias"] = w.t().contiguous(), bias
            else:
                out[o + dst + ".weight"] = w.t().contiguous() if conv else w
                out[o + dst + ".bias"] = bias
    return out


def load_minilm() -> tuple[BertModel, object]:
    """all-MiniLM-L6-v2 (BERT architecture, 6 layers, D = 384, 12 heads) in the course's
    :class:`BertModel`, and its WordPiece tokenizer (``tokenizers.Tokenizer``). Offline."""
    from coursekit.weights import minilm

    cfg, state, tokenizer = minilm()
    model = BertModel(
        cfg["vocab_size"],
        cfg["hidden_size"],
        cfg["num_hidden_layers"],
        cfg["num_attention_heads"],
        cfg["intermediate_size"],
        cfg["max_position_embeddings"],
        cfg["type_vocab_size"],
        cfg["layer_norm_eps"],
    )
    model.load_state_dict(state)
    return model.eval(), tokenizer


def encode_sentences(model: nn.Module, tokenizer, sentences: list[str], max_length: int = 128):
    """Sentence embeddings (N, D): tokenize with padding, run ``model``, mean-pool, normalise."""
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(max_length)
    enc = tokenizer.encode_batch(sentences)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    with torch.no_grad():
        hidden = model(ids, torch.zeros_like(ids), mask)
    return mean_pool(hidden, mask)
