"""``foundation.conv_stem`` (block 7): Whisper's convolutional stem (two kernel-3 convolutions
with GELU, only the second strided). Known mistakes, then the cases, then the registration."""

from __future__ import annotations

from torch.nn import functional as F

from autograder.chapters.foundation._common import _randn, _ri
from autograder.checks.spec import call_case, register_pair
from course.foundation import whisper as ref


class _Strides(ref.WhisperConvStem):
    stride1, stride2, act = 1, 2, staticmethod(F.gelu)

    def forward(self, mel):
        c1, c2 = self.conv1, self.conv2
        x = self.act(F.conv1d(mel, c1.weight, c1.bias, stride=self.stride1, padding=1))
        x = self.act(F.conv1d(x, c2.weight, c2.bias, stride=self.stride2, padding=1))
        return x.transpose(1, 2)


class _BothStrided(_Strides):
    stride1 = 2


class _FirstStrided(_Strides):
    stride1, stride2 = 2, 1


class _Relu(_Strides):
    act = staticmethod(F.relu)


class _TanhGelu(_Strides):
    act = staticmethod(lambda x: F.gelu(x, approximate="tanh"))


class _ChannelsFirst(ref.WhisperConvStem):
    def forward(self, mel):
        return super().forward(mel).transpose(1, 2)


MISTAKES = {
    "stride 2 on both convolutions (only conv2 is strided: 3,000 frames -> 1,500)": _BothStrided,
    "the stride is on the first convolution instead of the second": _FirstStrided,
    "ReLU instead of GELU": _Relu,
    "the tanh approximation of GELU (Whisper uses the exact erf form, F.gelu)": _TanhGelu,
    "the output is not transposed to (batch, time, d_model)": _ChannelsFirst,
}


def _cases(gen, device, visible=False):
    table = [(8, 16, 10, None), (4, 8, 1, None)]  # n_mels, d_model, frames, dtype
    if not visible:
        table += [
            (80, 32, 3000, None),
            (16, 24, 7, None),
            (8, 12, 2, None),
            (12, 16, _ri(gen, 3, 60), "bfloat16"),
            (128, 8, 9, None),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(4, 8, 5, "bfloat16")]
    for i, (n_mels, d, t, dtype) in enumerate(table):
        mel = _randn(gen, _ri(gen, 1, 2), n_mels, t)
        if dtype:
            mel = mel.bfloat16()
        grad = i >= 2 and dtype is None  # the first cases without gradients: a wrong shape is named
        label = f"n_mels={n_mels}, d_model={d}, mel {tuple(mel.shape)}" + (
            ", bfloat16" if dtype else ""
        )
        init = {"n_mels": n_mels, "d_model": d}
        grads = (0,) if grad else ()
        yield call_case(label, mel, init=init, grads=grads, device=device, dtype=dtype)


register_pair(
    name="foundation.conv_stem",
    target="WhisperConvStem",
    reference=ref.WhisperConvStem,
    cases=_cases,
    misconceptions=MISTAKES,
)
