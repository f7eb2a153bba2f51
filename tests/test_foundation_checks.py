"""The foundation-model checks beyond the registry's tests (tests/test_checks_registry.py: the
solution against every check, every named mistake under two class secrets): correct variants
written differently pass, cases cross the sandbox, one mistake costs one deduction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_crosses_the_sandbox, outcome
from torch import nn
from torch.nn import functional as F

from autograder.chapters.foundation import embed_prompts as prompt_checks
from autograder.checks.spec import REGISTRY
from course import foundation as ref

REFERENCE = {
    "clip_loss": ref.clip_loss,
    "zero_shot_logits": ref.zero_shot_logits,
    "embed_prompts": ref.embed_prompts,
    "SamAttention": ref.SamAttention,
    "TwoWayAttentionBlock": ref.TwoWayAttentionBlock,
    "select_masks": ref.select_masks,
    "log_mel_spectrogram": ref.log_mel_spectrogram,
    "WhisperConvStem": ref.WhisperConvStem,
    "sinusoids": ref.sinusoids,
    "decoder_prompt": ref.decoder_prompt,
}
NAMES = sorted(n for n in REGISTRY if n.startswith("foundation."))


def test_every_block_has_checks():
    assert {REGISTRY[n].target for n in NAMES} == set(REFERENCE)
    assert all(f"{n}.visible" in REGISTRY for n in NAMES if not REGISTRY[n].visible)


# --- correct variants written differently ------------------------------------------------------
def clip_loss_logsoftmax(img, txt, t):
    """Explicit log-softmax over rows and columns, scale clamped on exp(t) rather than on t."""
    img = img / img.norm(dim=1, keepdim=True)
    txt = txt / txt.norm(dim=1, keepdim=True)
    s = torch.clamp(t.exp(), 1.0, 100.0) * (img @ txt.T)
    diag = s.diagonal()
    return -(2 * diag - s.logsumexp(1) - s.logsumexp(0)).mean() / 2


def zero_shot_einsum(img, prompts, scale=100.0):
    p = prompts / prompts.norm(dim=-1, keepdim=True)
    w = p.sum(1)  # the mean's 1 / P cancels in the normalisation
    w = w / w.norm(dim=-1, keepdim=True)
    return scale * torch.einsum("bd,cd->bc", img / img.norm(dim=-1, keepdim=True), w)


class SamAttentionSdpa(ref.SamAttention):
    def forward(self, query, key, value):
        q, k, v = (
            self._heads(self.q_proj(query)),
            self._heads(self.k_proj(key)),
            self._heads(self.v_proj(value)),
        )
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).flatten(2))


def select_masks_loop(masks, iou_pred, multimask_output):
    out_m, out_s, out_i = [], [], []
    for m, s in zip(masks, iou_pred):
        i = 0
        if multimask_output:
            i = 1 + max(range(3), key=lambda j: (float(s[1 + j]), -j))
        out_m.append(m[i] > 0)
        out_s.append(s[i])
        out_i.append(i)
    return torch.stack(out_m), torch.stack(out_s), torch.tensor(out_i)


def log_mel_by_hand(audio, filters):
    """Framing by hand (reflect pad, unfold, rfft) instead of torch.stft."""
    x = F.pad(audio[None, None], (200, 200), mode="reflect")[0, 0]
    frames = x.unfold(0, 400, 160)[:-1] * torch.hann_window(400, dtype=audio.dtype)
    power = torch.fft.rfft(frames, dim=-1).abs().square().T  # (201, frames)
    spec = (filters @ power).clamp_min(1e-10).log10()
    spec = spec.clamp_min(spec.max() - 8)
    return spec / 4 + 1


class ConvStemSequential(nn.Module):
    def __init__(self, n_mels, d_model):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, 3, 2, 1)

    def forward(self, mel):
        return F.gelu(self.conv2(F.gelu(self.conv1(mel)))).permute(0, 2, 1)


def sinusoids_numpy(length, channels, max_timescale=10000.0):
    half = channels // 2
    inv = max_timescale ** (-np.arange(half) / (half - 1))
    t = np.arange(length)[:, None] * inv[None]
    return torch.from_numpy(np.concatenate([np.sin(t), np.cos(t)], 1)).float()


def decoder_prompt_by_names(special, language, task, timestamps, previous=None):
    names = ["<|startoftranscript|>"]
    if language:
        names += [f"<|{language}|>", f"<|{task}|>"]
    if not timestamps:
        names.append("<|notimestamps|>")
    head = [special["<|startofprev|>"], *previous[-(448 // 2 - 1) :]] if previous else []
    return head + [special[n] for n in names]


ALTERNATIVES = [
    ("foundation.clip_loss", clip_loss_logsoftmax),
    ("foundation.zero_shot", zero_shot_einsum),
    ("foundation.embed_prompts", prompt_checks._variant()),
    ("foundation.sam_attention", SamAttentionSdpa),
    ("foundation.select_masks", select_masks_loop),
    ("foundation.log_mel", log_mel_by_hand),
    ("foundation.conv_stem", ConvStemSequential),
    ("foundation.sinusoids", sinusoids_numpy),
    ("foundation.decoder_prompt", decoder_prompt_by_names),
]


@pytest.mark.parametrize("name,fn", ALTERNATIVES, ids=[n for n, _ in ALTERNATIVES])
def test_correct_variant_passes(name, fn, secret):
    result = outcome(name, fn)
    assert result.passed, result.message


def test_two_way_block_with_sdpa_attention_passes():
    class Block(ref.TwoWayAttentionBlock):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for n in ("self_attn", "cross_attn_token_to_image", "cross_attn_image_to_token"):
                old = getattr(self, n)
                new = SamAttentionSdpa(old.q_proj.in_features, old.num_heads, 1)
                new.q_proj, new.k_proj, new.v_proj, new.out_proj = (
                    old.q_proj,
                    old.k_proj,
                    old.v_proj,
                    old.out_proj,
                )
                setattr(self, n, new)

    result = outcome("foundation.two_way_block", Block)
    assert result.passed, result.message


@pytest.mark.parametrize("name", NAMES)
def test_cases_and_answers_cross_the_sandbox(name):
    assert_crosses_the_sandbox(name)


def test_one_mistake_one_deduction_in_the_two_way_block():
    """A block written correctly around a wrong SamAttention (no 1/sqrt(d) scale) passes the
    block's check (its attentions answer with the reference) and fails sam_attention only."""

    class UnscaledAttention(ref.SamAttention):
        def forward(self, query, key, value):
            q, k, v = (
                self._heads(self.q_proj(query)),
                self._heads(self.k_proj(key)),
                self._heads(self.v_proj(value)),
            )
            out = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
            return self.out_proj(out.transpose(1, 2).flatten(2))

    class Block(ref.TwoWayAttentionBlock):
        def __init__(self, embedding_dim, num_heads, mlp_dim, attention_downsample_rate=2,
                     skip_first_layer_pe=False):  # fmt: skip
            super().__init__(
                embedding_dim, num_heads, mlp_dim, attention_downsample_rate, skip_first_layer_pe
            )
            r = attention_downsample_rate
            self.self_attn = UnscaledAttention(embedding_dim, num_heads, 1)
            self.cross_attn_token_to_image = UnscaledAttention(embedding_dim, num_heads, r)
            self.cross_attn_image_to_token = UnscaledAttention(embedding_dim, num_heads, r)

    assert not outcome("foundation.sam_attention", UnscaledAttention).passed
    result = outcome("foundation.two_way_block", Block)
    assert result.passed, result.message
