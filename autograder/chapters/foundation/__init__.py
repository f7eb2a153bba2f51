"""Checks for chapter 06-clip-sam-whisper (solutions/06-clip-sam-whisper), named
``foundation.<block>``: one module per block (importing a block module registers it)."""

from autograder.chapters.foundation import (  # noqa: F401
    clip_loss,
    conv_stem,
    decoder_prompt,
    embed_prompts,
    log_mel,
    select_masks,
    sinusoids,
    two_way,
    zero_shot,
)
