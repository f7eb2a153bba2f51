"""Checks for the LLaMA internals assignment (solutions/03-llama), named ``llama.<block>``:
one module per block (contract adapters in ``_common``); importing a block module registers it."""

from autograder.chapters.llama import (  # noqa: F401  (importing registers the checks)
    attention,
    kv_cache,
    model,
    rmsnorm,
    rope,
    sampling,
    swiglu,
    triton_kernel,
)
from autograder.chapters.llama._common import (
    Attention,
    DecoderLayer,
    KVCache,
    LlamaForCausalLM,
    RMSNorm,
    SwiGLU,
    rmsnorm_triton,
)

__all__ = [
    "Attention",
    "DecoderLayer",
    "KVCache",
    "LlamaForCausalLM",
    "RMSNorm",
    "SwiGLU",
    "rmsnorm_triton",
]
