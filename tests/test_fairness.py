"""Fair to every correct answer: code a student really copies (openai-whisper, Hugging Face), and
answers the contracts allow (float32 inside for float64 inputs), score full marks under the public
seed and two class secrets; a dtype-only mismatch says so; a mistake is named only for its own
difference from the reference."""

from __future__ import annotations

import unicodedata

import pytest
import torch
from conftest import outcome
from torch import nn

import autograder.checks.foundation  # noqa: F401  (registers the checks)
import autograder.checks.llama  # noqa: F401
import autograder.checks.ssl_learning  # noqa: F401
import autograder.checks.tokenization  # noqa: F401
from autograder.checks.spec import REGISTRY
from autograder.validate import float32_inside
from course.foundation import whisper
from course.tokenization import wordpiece


# openai-whisper's audio.log_mel_spectrogram (whisper/audio.py), adapted to the contract only: the
# filters come in as an argument instead of from mel_filters(device, n_mels)
def whisper_log_mel_spectrogram(audio, filters):
    window = torch.hann_window(whisper.N_FFT).to(audio.device)  # float32, whatever the audio
    stft = torch.stft(audio, whisper.N_FFT, whisper.HOP_LENGTH, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    mel_spec = filters @ magnitudes
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    return log_spec


def test_openai_whispers_own_log_mel_passes(secret):
    result = outcome("foundation.log_mel", whisper_log_mel_spectrogram)
    assert result.passed, result.message


SSL_FUNCTIONS = sorted(
    name
    for name, check in REGISTRY.items()
    if name.startswith("ssl_learning.")
    and not name.endswith(".visible")
    and not isinstance(check.reference, type)
)


@pytest.mark.parametrize("name", SSL_FUNCTIONS)
def test_float32_inside_for_float64_inputs_passes_every_ssl_block(name, secret):
    result = outcome(name, float32_inside(REGISTRY[name].reference))
    assert result.passed, result.message


# Hugging Face's LlamaRMSNorm (transformers/models/llama/modeling_llama.py), adapted to the
# contract's names (hidden_size, eps)
class HuggingFaceRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class HuggingFaceRMSNormInInputDtype(HuggingFaceRMSNorm):
    """The same, with the one change the contract asks for: the product cast to x's dtype."""

    def forward(self, hidden_states):
        return super().forward(hidden_states).to(hidden_states.dtype)


def test_hugging_faces_rmsnorm_is_told_only_its_dtype_is_wrong(secret):
    result = outcome("llama.rmsnorm", HuggingFaceRMSNorm)
    assert not result.passed
    assert "the values are right but the dtype is float32, not bfloat16" in result.message
    result = outcome("llama.rmsnorm", HuggingFaceRMSNormInInputDtype)
    assert result.passed, result.message


def test_a_mistake_is_named_only_for_its_own_difference(secret):
    """Lower-casing the whole string (a final capital sigma becomes ς) is wrong, and is none of
    the named mistakes: in particular not the CJK one, whose variant once lower-cased the same
    way and so matched on a Greek case without any CJK character in it."""

    def pretokenize_lowering_whole_string(text):
        out = []
        for ch in text:
            if ch in "\x00\ufffd" or wordpiece.is_control(ch):
                continue
            if wordpiece.is_whitespace(ch):
                out.append(" ")
            elif wordpiece.is_cjk(ch):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        text = unicodedata.normalize("NFD", "".join(out))
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()
        words, cur = [], []
        for ch in text:
            if wordpiece.is_whitespace(ch) or wordpiece.is_punctuation(ch):
                if cur:
                    words.append("".join(cur))
                    cur = []
                if not wordpiece.is_whitespace(ch):
                    words.append(ch)
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        return words

    result = outcome("tokenization.bert_pretokenize", pretokenize_lowering_whole_string)
    assert not result.passed and "final sigma" in result.message
    assert "matches a common mistake" not in result.message, result.message
