"""``foundation.log_mel`` (block 6): Whisper's log-mel spectrogram, equal to openai-whisper's
``log_mel_spectrogram``. Known mistakes, then the cases, then the registration."""

from __future__ import annotations

import math

import torch

from autograder.chapters.foundation._common import _rf, _ri
from autograder.checks.spec import Case, Step, register_pair
from course.foundation import whisper as ref


def _log_mel(audio, filters, *, log=torch.log10, floor=True, power=2, scale=True):
    window = torch.hann_window(ref.N_FFT, dtype=audio.dtype, device=audio.device)
    stft = torch.stft(audio, ref.N_FFT, ref.HOP_LENGTH, window=window, return_complex=True)
    spec = log(torch.clamp(filters @ stft[..., :-1].abs() ** power, min=1e-10))
    if floor:
        spec = torch.maximum(spec, spec.max() - 8.0)
    return (spec + 4.0) / 4.0 if scale else spec


MISTAKES = {
    "natural log instead of log10": lambda a, f: _log_mel(a, f, log=torch.log),
    "no dynamic-range floor (values below max - 8 must be raised to max - 8)": (
        lambda a, f: _log_mel(a, f, floor=False)
    ),
    "mel filters applied to the magnitude |STFT| instead of the power |STFT|^2": (
        lambda a, f: _log_mel(a, f, power=1)
    ),
    "missing the final (x + 4) / 4 scaling": lambda a, f: _log_mel(a, f, scale=False),
}


def _speechlike(gen, n: int, dtype) -> torch.Tensor:
    """Chirps and noise bursts separated by silence (so the max - 8 floor and the 1e-10 clamp
    both matter), amplitude between 0.01 and 0.8."""
    t = torch.arange(n, dtype=torch.float64) / ref.SAMPLE_RATE
    f0 = _rf(gen, 100, 300)
    x = torch.sin(2 * math.pi * (f0 * t + _rf(gen, 50, 400) * t**2))
    x = x + 0.3 * torch.sin(2 * math.pi * 3 * f0 * t)
    x = x + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    gate = torch.ones(n, dtype=torch.float64)
    for _ in range(_ri(gen, 1, 3)):
        start = _ri(gen, 0, max(n - 2, 0))
        gate[start : start + _ri(gen, n // 8, n // 3)] = 0.0  # exact silence
    return (_rf(gen, 0.01, 0.8) * x * gate).to(dtype)


def _cases(gen, device, visible=False):
    table = [(8000, 80, torch.float32), (1601, 80, torch.float32)]
    if not visible:
        table += [
            (ref.N_SAMPLES, 80, torch.float32),  # 30 s: 3,000 frames
            (16000, 128, torch.float32),
            (_ri(gen, 300, 20000), 80, torch.float64),
            (201, 80, torch.float32),  # the shortest input the reflect padding allows: 1 frame
            (4321, 128, torch.float64),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(1000, 80, torch.float64)]
    for n, n_mels, dtype in table:
        audio = _speechlike(gen, n, dtype)
        filters = ref.mel_filters(n_mels).to(dtype)
        yield Case(
            f"{n} samples ({n / ref.SAMPLE_RATE:.3g} s), {n_mels} mels, {str(dtype)[6:]}",
            [Step((audio, filters))],
            device=device,
        )


# openai-whisper builds its Hann window in float32 (``torch.hann_window(N_FFT)``) whatever the
# audio's dtype, which moves float64 results by about 1e-6: a float64 case asks for a float64
# result as exact as whisper's own code, i.e. float32's tolerance (``float32_inside``; see the
# contract)
register_pair(
    name="foundation.log_mel",
    target="log_mel_spectrogram",
    reference=ref.log_mel_spectrogram,
    cases=_cases,
    misconceptions=MISTAKES,
    float32_inside=True,
)
