"""Whisper (Radford et al., 2022): the log-mel front end, the convolutional stem, sinusoidal
positions and the decoder's task prompt. Parameter names follow openai-whisper's AudioEncoder.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms
CHUNK_SECONDS = 30
N_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480,000 samples -> 3,000 frames
N_TEXT_CTX = 448  # the decoder's context; a previous-text prompt keeps its last 448 // 2 - 1


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = 80) -> torch.Tensor:
    """(n_mels, 201) Slaney-style mel filter bank of openai-whisper (librosa's, saved as npz)."""
    path = resources.files("whisper") / "assets" / "mel_filters.npz"
    with resources.as_file(path) as p, np.load(p, allow_pickle=False) as f:
        return torch.from_numpy(f[f"mel_{n_mels}"])


def hz_to_mel(f: np.ndarray | float) -> np.ndarray | float:
    """The Slaney mel scale used by librosa (linear below 1 kHz, logarithmic above)."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray | float:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0), m * 200.0 / 3)


def mel_filter_bank(
    n_mels: int = 80, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT
) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) float64 triangular filters, evenly spaced on the mel scale from 0
    to the Nyquist frequency, each of area-normalised height 2 / (f_right - f_left) (Slaney)."""
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return torch.from_numpy(weights)


def log_mel_spectrogram(audio: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """Whisper's log-mel spectrogram of a 16 kHz waveform.

    STFT with a periodic Hann window of 400 samples and hop 160, centred (reflect-padded by 200 on
    each side), the last frame dropped; power |X|^2; mel filter bank; log10 of the power clamped
    at 1e-10; values below (max - 8) raised to max - 8; then (x + 4) / 4.

    Args:
        audio: (T,) float32 or float64 waveform, T > 200.
        filters: (n_mels, 201) mel filter bank, same dtype as audio.
    Returns:
        (n_mels, T // 160) in the audio's dtype.
    """
    window = torch.hann_window(N_FFT, dtype=audio.dtype, device=audio.device)
    stft = torch.stft(audio, N_FFT, HOP_LENGTH, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    log_spec = torch.clamp(filters @ power, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def log_mel_general(audio: torch.Tensor, n_fft: int, hop: int, n_mels: int) -> torch.Tensor:
    """:func:`log_mel_spectrogram` with any window (= n_fft, even), hop and mel count, float64
    (the log-mel explorer's reference): (n_mels, frames) with frames = 1 + T // hop - 1."""
    audio = audio.double()
    window = torch.hann_window(n_fft, dtype=torch.float64)
    stft = torch.stft(audio, n_fft, hop, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    spec = torch.clamp(mel_filter_bank(n_mels, SAMPLE_RATE, n_fft) @ power, min=1e-10).log10()
    spec = torch.maximum(spec, spec.max() - 8.0)
    return (spec + 4.0) / 4.0


def synthetic_voice(seconds: float = 1.0) -> torch.Tensor:
    """A deterministic voiced, vowel-like test signal at 16 kHz (harmonics of a gliding pitch
    shaped by a moving formant, with pauses): speech-like structure without a synthesiser."""
    t = torch.arange(int(seconds * SAMPLE_RATE), dtype=torch.float64) / SAMPLE_RATE
    f0 = 120 + 30 * torch.sin(2 * math.pi * 0.7 * t)
    formant = 700 + 500 * torch.sin(2 * math.pi * 1.3 * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / SAMPLE_RATE
    x = sum(
        torch.sin(k * phase) / k * torch.exp(-(((k * f0 - formant) / 300) ** 2))
        for k in range(1, 40)
    )
    x = x * (torch.sin(2 * math.pi * 2.0 * t) > -0.4)
    return (0.3 * x / x.abs().max()).float()


class WhisperConvStem(nn.Module):
    """Two 1-D convolutions with GELU: conv1 (n_mels -> d, kernel 3, padding 1, stride 1) and
    conv2 (d -> d, kernel 3, padding 1, stride 2): 3,000 frames -> 1,500 positions.

    forward(mel (B, n_mels, T)) -> (B, (T + 1) // 2, d) (time first, ready for the transformer).
    """

    def __init__(self, n_mels: int, d_model: int):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, kernel_size=3, stride=2, padding=1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x))
        return x.transpose(1, 2)


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's encoder positions: (length, channels) float32, [sin | cos] halves.

    Timescales are geometric from 1 to ``max_timescale`` over the channels // 2 frequencies:
    inv_timescale_i = max_timescale ** (-i / (channels // 2 - 1)), i = 0 .. channels // 2 - 1.
    """
    half = channels // 2
    inc = math.log(max_timescale) / (half - 1)
    inv = torch.exp(-inc * torch.arange(half, dtype=torch.float32))
    t = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


def sinusoids64(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """:func:`sinusoids` computed in float64 (the exact values, for tolerances)."""
    half = channels // 2
    inc = math.log(max_timescale) / (half - 1)
    inv = torch.exp(-inc * torch.arange(half, dtype=torch.float64))
    t = torch.arange(length, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


def decoder_prompt(
    special: dict[str, int],
    language: str | None,
    task: str,
    timestamps: bool,
    previous: list[int] | None = None,
) -> list[int]:
    """The token ids that start Whisper's decoder.

    [<|startofprev|>, *previous[-223:]] (only if ``previous`` is non-empty), then
    <|startoftranscript|>, then (multilingual models, ``language`` given) <|lang|> and
    <|transcribe|> or <|translate|>, then <|notimestamps|> unless ``timestamps``.

    Args:
        special: special token string -> id (e.g. "<|en|>" -> 50259) for the model's vocabulary.
        language: a language code such as "en" or "zh"; None for an English-only model (no
            language and no task token).
        task: "transcribe" or "translate".
        timestamps: True to let the model predict timestamps (no <|notimestamps|>).
        previous: earlier text tokens (ids) to condition on, or None / [].
    """
    tokens: list[int] = []
    if previous:
        keep = N_TEXT_CTX // 2 - 1
        tokens = [special["<|startofprev|>"], *[int(t) for t in previous[-keep:]]]
    tokens.append(special["<|startoftranscript|>"])
    if language is not None:
        tokens += [special[f"<|{language}|>"], special[f"<|{task}|>"]]
    if not timestamps:
        tokens.append(special["<|notimestamps|>"])
    return tokens


def special_tokens(multilingual: bool = True) -> dict[str, int]:
    """The special tokens a decoder prompt uses (languages, tasks, sot, prev, notimestamps) from
    openai-whisper's tokenizer (GPT-2 ranks for English-only models, multilingual otherwise)."""
    from whisper.tokenizer import LANGUAGES, get_tokenizer

    tok = get_tokenizer(multilingual)
    names = [f"<|{code}|>" for code in LANGUAGES] + [
        "<|startoftranscript|>",
        "<|transcribe|>",
        "<|translate|>",
        "<|notimestamps|>",
        "<|startofprev|>",
        "<|nospeech|>",
    ]
    return {n: tok.special_tokens[n] for n in names if n in tok.special_tokens}
