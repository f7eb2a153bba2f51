"""Checks for chapter 01-bert-gpt (solutions/01-bert-gpt), named ``bert_gpt.<block>``: one module
per block (or small group); importing a block module registers its checks.

Composite blocks (multi-head attention, the encoder layer and model, the GPT-2 block and model, and
decoding) declare their graded sub-blocks (``Check.submodules``, listed in ``_common.SUBMODULES``):
while they run, the student's ``sdpa``, ``self_attn``, ``embeddings`` and ``layers.*`` answer with
the reference on the student's own parameters, so one mistake costs one part.
"""

from autograder.chapters.bert_gpt import (  # noqa: F401  (importing registers the checks)
    attention,
    embeddings,
    generate,
    layers,
    loss,
    mlm,
    triton_attention,
)
from autograder.chapters.bert_gpt._common import SUBMODULES  # noqa: F401
