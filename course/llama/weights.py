"""Real weights for chapter 03-llama: SmolLM2-135M-Instruct (LLaMA architecture) in the course's classes.

The GGUF reader lives in the student kit (``coursekit.weights``), which the notebooks use too.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from course.llama.blocks import LlamaConfig, LlamaForCausalLM
from coursekit.weights import _unpermute as _unpermute
from coursekit.weights import smollm2 as _smollm2
from coursekit.weights import smollm2_gguf_path as gguf_path
from coursekit.weights import smollm2_tokenizer as tokenizer

__all__ = ["gguf_path", "load", "load_model", "tokenizer"]


def load(path: Path | None = None) -> tuple[LlamaConfig, dict[str, torch.Tensor]]:
    """(config, state dict with Hugging Face names) from the GGUF file."""
    config, sd = _smollm2(path)
    return LlamaConfig(**asdict(config)), sd


def load_model(path: Path | None = None) -> LlamaForCausalLM:
    config, sd = load(path)
    model = LlamaForCausalLM(config)
    model.load_state_dict(sd)
    return model.eval()
