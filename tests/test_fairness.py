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

import autograder.chapters.foundation  # noqa: F401  (registers the checks)
import autograder.chapters.llama  # noqa: F401
import autograder.chapters.scaling  # noqa: F401
import autograder.chapters.ssl_learning  # noqa: F401
import autograder.chapters.tokenization  # noqa: F401
from autograder.chapters.tokenization.bert_pretokenize import _pretokenize_with
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

    def normalize_lowering_whole_string(text):
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
        return "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()

    def pretokenize_lowering_whole_string(text):
        return _pretokenize_with(normalize_lowering_whole_string, text)

    result = outcome("tokenization.bert_pretokenize", pretokenize_lowering_whole_string)
    assert not result.passed and "final sigma" in result.message
    assert "matches a common mistake" not in result.message, result.message


def fit_chinchilla_with_autograd(n, d, loss):
    """Approach 3 as the contract states it, the gradient from torch.autograd and the Huber loss
    from torch (``F.huber_loss``, summed): written differently from the reference."""
    import itertools
    import math

    from scipy.optimize import minimize

    log_n, log_d, log_l = (torch.tensor(t, dtype=torch.float64).log() for t in (n, d, loss))

    @torch.enable_grad()  # checks call answers with gradients off, as the contract says
    def objective(theta):
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        terms = [t[0] - t[3] * log_n, t[1] - t[4] * log_d, t[2].expand_as(log_n)]
        pred = torch.logsumexp(torch.stack(terms), dim=0)
        value = nn.functional.huber_loss(pred, log_l, delta=1e-3, reduction="sum")
        value.backward()
        return value.item(), t.grad.numpy()

    axes = [[0.0, 5, 10, 15, 20, 25]] * 2 + [[-1.0, -0.5, 0, 0.5, 1]] + [[0.0, 0.5, 1, 1.5, 2]] * 2
    with torch.no_grad():
        grid = torch.tensor(list(itertools.product(*axes)), dtype=torch.float64)
        terms = [
            grid[:, :1] - grid[:, 3:4] * log_n,
            grid[:, 1:2] - grid[:, 4:5] * log_d,
            grid[:, 2:3].expand(-1, len(log_n)),
        ]
        pred = torch.logsumexp(torch.stack(terms), dim=0)
        values = nn.functional.huber_loss(
            pred, log_l.expand_as(pred), delta=1e-3, reduction="none"
        ).sum(1)
    options = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 3000}
    fits = [
        minimize(objective, grid[i].numpy(), method="L-BFGS-B", jac=True, options=options)
        for i in values.argsort()[:4]
    ]
    a, b, e, alpha, beta = min(fits, key=lambda r: r.fun).x
    return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta}


@pytest.mark.parametrize("student", ["student-005", "student-011"])
def test_a_chinchilla_fit_with_autograd_gradients_passes(secret, student):
    """The contract's procedure with another gradient and another Huber: full marks, also for
    students whose hidden data once stopped the finite-difference version early."""
    from autograder.checks.runner import InKernelExecutor, run_check, seed_for
    from autograder.checks.spec import get_check

    seed = seed_for("scaling.fit_chinchilla", student, secret)
    result = run_check(
        get_check("scaling.fit_chinchilla"), InKernelExecutor(fit_chinchilla_with_autograd), seed
    )
    assert result.passed, result.message
