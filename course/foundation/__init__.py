"""Chapter 06-clip-sam-whisper (CLIP, SAM and Whisper): the reference implementations.

Parts: the graded blocks, one module per model (:mod:`.clip`, :mod:`.sam`, :mod:`.whisper`; each
block states its shapes and is proven against an independent oracle in
``tests/test_foundation_oracles.py``; ``autograder/chapters/foundation/`` grades students against
them); :mod:`.tiny_clip`, the small CLIP the book trains; :mod:`.weights`, Whisper tiny.en's real
weights; :mod:`.widgets`, the book's viewers. The package's names are the graded blocks' and,
imported on first use, the weights' and widgets' (:mod:`course._parts`).
"""

from course._parts import lazy_parts
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

__getattr__, __dir__ = lazy_parts(__name__, "weights", "widgets")
