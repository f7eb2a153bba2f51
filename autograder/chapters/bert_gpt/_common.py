"""Shared by the BERT/GPT checks: random helpers and the map of graded sub-blocks inside composite blocks.

The student-facing contracts are the reference's own signatures (course/bert_gpt/blocks.py, proven
against torch and Hugging Face in tests/test_bert_gpt_oracles.py), so the references are
registered directly.
"""

from __future__ import annotations

import torch

from autograder.checks.inject import Submodule
from autograder.checks.spec import rand_int
from course import bert_gpt as ref
from coursekit.compare import DEFAULT_TOL

#: tolerances: bfloat16 attention and LayerNorm stacks carry ~1e-2 of their scale
TOL = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}


# --- one mistake, one deduction ---------------------------------------------------------------
# Composite checks declare their graded sub-blocks (spec.Check.submodules): while they run, each
# matching submodule of the student's module answers with the reference sub-block applied to the
# student's own parameters (autograder.checks.inject), so a bug is charged in its own part only.
def _sdpa(init: dict) -> torch.nn.Module:
    return ref.SDPA()


def _mha(init: dict) -> torch.nn.Module:
    return ref.MultiHeadAttention(init["hidden_size"], init["num_heads"])


def _embeddings(init: dict) -> torch.nn.Module:
    return ref.BertEmbeddings(
        init["vocab_size"],
        init["hidden_size"],
        init["max_position_embeddings"],
        init["type_vocab_size"],
        init["eps"],
    )


def _encoder_layer(init: dict) -> torch.nn.Module:
    return ref.EncoderLayer(
        init["hidden_size"], init["num_heads"], init["intermediate_size"], init["eps"]
    )


def _decoder_block(init: dict) -> torch.nn.Module:
    return ref.DecoderBlock(init["hidden_size"], init["num_heads"], init["eps"])


MHA_PARTS = {"sdpa": Submodule("bert_gpt.sdpa", _sdpa)}
LAYER_PARTS = {"self_attn": Submodule("bert_gpt.mha", _mha)}
BERT_PARTS = {
    "embeddings": Submodule("bert_gpt.embeddings", _embeddings),
    "layers.*": Submodule("bert_gpt.encoder_layer", _encoder_layer),
}
GPT2_PARTS = {"layers.*": Submodule("bert_gpt.decoder_block", _decoder_block)}
#: check name -> its graded sub-blocks (as passed to each Check)
SUBMODULES: dict[str, dict[str, Submodule]] = {
    "bert_gpt.mha": MHA_PARTS,
    "bert_gpt.encoder_layer": LAYER_PARTS,
    "bert_gpt.decoder_block": LAYER_PARTS,
    "bert_gpt.bert_model": BERT_PARTS,
    "bert_gpt.gpt2": GPT2_PARTS,
    "bert_gpt.generate": GPT2_PARTS,
}


def _randn(gen: torch.Generator, *shape, scale: float = 1.0, dtype=torch.float32) -> torch.Tensor:
    return (torch.randn(shape, generator=gen) * scale).to(dtype)


_ri = rand_int
