"""Checks for chapter 01-bert-gpt (solutions/01-bert-gpt), named ``bert_gpt.<block>``: one module
per block (or small group); importing a block module registers its checks.

Composite blocks (the encoder layer, the GPT-2 model) name their graded sub-blocks in
``_common.SUBMODULES`` (attribute path glob -> the check whose reference replaces it while
grading), so that one mistake costs one block once the grader swaps submodules.
"""

from autograder.checks.bert_gpt import (  # noqa: F401  (importing registers the checks)
    attention,
    embeddings,
    generate,
    layers,
    loss,
    mlm,
    triton_attention,
)
from autograder.checks.bert_gpt._common import SUBMODULES  # noqa: F401
