"""Chapter 6 timings, each against a named baseline measured in the same run.

1. Log-mel of 30 s of audio: the course's reference (course.foundation.whisper.log_mel_spectrogram)
   vs openai-whisper's log_mel_spectrogram (ratio = course / openai-whisper; aim: <= 1).
2. SAM's amortisation at a small scale (random weights, Hugging Face SamModel: a 4-layer ViT of
   width 256 on 512 x 512, 32 x 32 embedding): image encoder once vs prompt encoder + mask decoder
   per prompt; and the course's prompt path (embed_prompts + two TwoWayAttentionBlocks at full
   width 256 over a 64 x 64 image embedding).
3. The tiny CLIP of the book: training time (40 epochs on 1,257 digits) vs one epoch's cost.
Medians of several rounds after one warm-up, on one thread (the machine is shared).
Run: .venv/bin/python benchmarks/foundation_speed.py
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course.foundation import sam, tiny_clip  # noqa: E402
from course.foundation import whisper as wref  # noqa: E402


def timed(fn, rounds: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def log_mel_rows() -> list[list]:
    import whisper

    t = torch.arange(wref.N_SAMPLES) / wref.SAMPLE_RATE
    gen = torch.Generator().manual_seed(0)
    audio = (
        0.3 * torch.sin(2 * math.pi * 220 * t) + 0.05 * torch.randn(len(t), generator=gen)
    ).float()
    filters = wref.mel_filters(80)
    assert torch.allclose(
        wref.log_mel_spectrogram(audio, filters), whisper.log_mel_spectrogram(audio), atol=1e-5
    )
    ours = timed(lambda: wref.log_mel_spectrogram(audio, filters), rounds=9)
    theirs = timed(lambda: whisper.log_mel_spectrogram(audio), rounds=9)
    return [
        [
            "log-mel, 30 s of audio (course / openai-whisper)",
            ours * 1e3,
            theirs * 1e3,
            ours / theirs,
        ]
    ]


def sam_rows() -> list[list]:
    from transformers import SamConfig, SamModel

    cfg = SamConfig(
        vision_config=dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                           image_size=512, patch_size=16, window_size=8, global_attn_indexes=[1, 3]),
        prompt_encoder_config=dict(image_size=512, image_embedding_size=32),
    )  # fmt: skip
    torch.manual_seed(0)
    model = SamModel(cfg).eval()
    pixels = torch.randn(1, 3, 512, 512)
    prompt = dict(
        input_points=torch.tensor([[[[250.0, 230.0]]]]), input_labels=torch.tensor([[[1]]])
    )
    with torch.no_grad():
        emb = model.get_image_embeddings(pixels)
        t_img = timed(lambda: model.get_image_embeddings(pixels), rounds=5)
        t_prompt = timed(
            lambda: model(image_embeddings=emb, multimask_output=True, **prompt), rounds=20
        )

        # the course's own modules at SAM's real decoder width over a 64 x 64 embedding
        g = torch.Generator().manual_seed(0)
        c = 256
        gaussian, point_embed, nap = (
            torch.randn(2, c // 2, generator=g),
            torch.randn(4, c, generator=g),
            torch.randn(c, generator=g),
        )
        blocks = [
            sam.TwoWayAttentionBlock(c, 8, 2048, 2, skip_first_layer_pe=(i == 0)).eval()
            for i in range(2)
        ]
        image = torch.randn(1, 64 * 64, c, generator=g)
        image_pe = torch.randn(1, 64 * 64, c, generator=g)
        out_tokens = torch.randn(1, 5, c, generator=g)

        def course_prompt():
            sparse = sam.embed_prompts(torch.tensor([[[500.0, 375.0]]]), torch.tensor([[1]]), None,
                                       (1024, 1024), gaussian, point_embed, nap)  # fmt: skip
            q = torch.cat([out_tokens, sparse], 1)
            k = image
            for blk in blocks:
                q, k = blk(q, k, torch.cat([out_tokens, sparse], 1), image_pe)
            return q, k

        t_course = timed(course_prompt, rounds=10)
    return [
        ["SAM (small, random weights): image encoder once / prompt encoder + decoder per prompt",
         t_img * 1e3, t_prompt * 1e3, t_img / t_prompt],
        ["course prompt path: embed_prompts + 2 two-way blocks (width 256, 64x64 image) / HF small decoder",
         t_course * 1e3, t_prompt * 1e3, t_course / t_prompt],
    ]  # fmt: skip


def clip_rows() -> list[list]:
    full = timed(lambda: tiny_clip.train_tiny_clip(epochs=40), rounds=3)
    one = timed(lambda: tiny_clip.train_tiny_clip(epochs=1), rounds=3)
    return [
        [
            "tiny CLIP training, 40 epochs / 1 epoch (data loading included in both)",
            full * 1e3,
            one * 1e3,
            full / one,
        ]
    ]


if __name__ == "__main__":
    torch.set_num_threads(1)
    rows = log_mel_rows() + sam_rows() + clip_rows()
    write(
        "foundation_speed.json",
        ["measurement", "ms", "baseline ms", "ratio"],
        [[r[0], round(r[1], 3), round(r[2], 3), round(r[3], 3)] for r in rows],
        note="medians after one warm-up, one CPU thread; GPU figures were not measured",
    )
