"""``foundation.decoder_prompt`` (block 9): the special tokens that start Whisper's decoder,
equal to openai-whisper's ``DecodingTask``. Known mistakes, then the cases, then the
registration."""

from __future__ import annotations

from autograder.chapters.foundation._common import _ri
from autograder.checks.spec import Case, Step, register_pair
from course.foundation import whisper as ref


def _inverted(special, language, task, timestamps, previous=None):
    return ref.decoder_prompt(special, language, task, not timestamps, previous)


def _first_previous(special, language, task, timestamps, previous=None):
    keep = ref.N_TEXT_CTX // 2 - 1
    return ref.decoder_prompt(special, language, task, timestamps, (previous or [])[:keep])


def _task_first(special, language, task, timestamps, previous=None):
    out = ref.decoder_prompt(special, language, task, timestamps, previous)
    if language is not None:
        i = out.index(special["<|startoftranscript|>"])
        out[i + 1], out[i + 2] = out[i + 2], out[i + 1]
    return out


MISTAKES = {
    "<|notimestamps|> where timestamps are wanted (the flag inverted)": _inverted,
    "the first 223 previous tokens kept instead of the last 223": _first_previous,
    "the task token before the language token": _task_first,
}

LANGS = ["en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "yo", "haw", "ln", "jw"]


def _cases(gen, device, visible=False):
    multi, english = ref.special_tokens(True), ref.special_tokens(False)
    table = [
        (multi, "en", "transcribe", False, []),
        (multi, "fr", "translate", True, []),
        (english, None, "transcribe", False, [11, 12]),
    ]
    if not visible:
        table += [
            (multi, "zh", "transcribe", True, [_ri(gen, 0, 50000) for _ in range(5)]),
            (multi, LANGS[_ri(gen, 0, len(LANGS) - 1)], "translate", False, None),
            (multi, "de", "transcribe", False, [_ri(gen, 0, 50000) for _ in range(250)]),
            (english, None, "transcribe", True, list(range(223))),
            (english, None, "transcribe", False, [7] + list(range(224))),
            (multi, "ja", "transcribe", False, [42]),
        ]
    for special, language, task, timestamps, previous in table:
        kind = "multilingual" if special is multi else "English-only"
        n = len(previous or [])
        yield Case(
            f"{kind}, language={language!r}, task={task!r}, timestamps={timestamps}, "
            f"{n} previous tokens",
            [Step((special, language, task, timestamps, previous))],
            device=device,
        )


register_pair(
    name="foundation.decoder_prompt",
    target="decoder_prompt",
    reference=ref.decoder_prompt,
    cases=_cases,
    misconceptions=MISTAKES,
)
