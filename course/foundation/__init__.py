"""Reference implementations for chapter 06-clip-sam-whisper (CLIP, SAM and Whisper).

One module per model: :mod:`.clip`, :mod:`.sam`, :mod:`.whisper`. Each block states its shapes
and is proven against an independent oracle in ``tests/test_foundation_oracles.py``; the checks in
``autograder/checks/foundation/`` grade students against it.
"""

from course.foundation.clip import clip_loss, zero_shot_logits
from course.foundation.sam import (
    SamAttention,
    TwoWayAttentionBlock,
    embed_prompts,
    select_masks,
)
from course.foundation.whisper import (
    WhisperConvStem,
    decoder_prompt,
    log_mel_spectrogram,
    sinusoids,
)

__all__ = [
    "SamAttention",
    "TwoWayAttentionBlock",
    "WhisperConvStem",
    "clip_loss",
    "decoder_prompt",
    "embed_prompts",
    "log_mel_spectrogram",
    "select_masks",
    "sinusoids",
    "zero_shot_logits",
]
