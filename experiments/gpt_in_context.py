"""In-context learning and nucleus sampling with the course's SmolLM2-135M weights (chapter 1's GPT
page).

Two parts:

* ``icl``: three small deterministic tasks (country -> capital, antonym, lower -> upper case; ten
  items each). Each item is asked with k = 0, 1, 2, 4 or 8 solved examples of the same task in
  the prompt (the examples are the next k items of the task, never the item asked), in GPT-3's
  ``input => output`` format under a one-line task description. A prompt is scored by the model's
  next-token logits at its last position: *among candidates* (the first token of each of the
  task's ten answers; chance is 1 in 10) and *free* (the arg-max over the whole vocabulary must be
  the answer's first token).
* ``nucleus``: the next-token distributions after two prompts, one with an obvious continuation
  and one without: the 60 largest probabilities, and the number of tokens that top-p keeps for
  several p, counted with the course's sampler (``course.llama.sampling_probs``).

Run: PYTHONPATH=.:kit/src .venv/bin/python experiments/gpt_in_context.py   (about a minute on one
CPU thread, loading the weights included; the page prints the time the run took here)
Writes book/_static/gpt_in_context.json, which book/01-bert-gpt/gpt.md reads. The model is run in
float32 with no sampling, so a rerun gives the same numbers up to CPU-kernel rounding.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from course.llama import sampling_probs
from course.llama import weights as smollm2

OUT = Path(__file__).resolve().parents[1] / "book" / "_static" / "gpt_in_context.json"
SHOTS = (0, 1, 2, 4, 8)
TASKS = {
    "country -> capital": (
        "Give the capital city.",
        [
            ("France", "Paris"),
            ("Japan", "Tokyo"),
            ("Italy", "Rome"),
            ("Egypt", "Cairo"),
            ("Russia", "Moscow"),
            ("Spain", "Madrid"),
            ("Germany", "Berlin"),
            ("Greece", "Athens"),
            ("Kenya", "Nairobi"),
            ("Peru", "Lima"),
        ],
    ),
    "antonym": (
        "Give the opposite word.",
        [
            ("hot", "cold"),
            ("up", "down"),
            ("big", "small"),
            ("fast", "slow"),
            ("open", "closed"),
            ("early", "late"),
            ("happy", "sad"),
            ("rich", "poor"),
            ("light", "dark"),
            ("old", "young"),
        ],
    ),
    "lower -> upper case": (
        "Write the word in capital letters.",
        [
            ("dog", "DOG"),
            ("cat", "CAT"),
            ("sun", "SUN"),
            ("red", "RED"),
            ("box", "BOX"),
            ("car", "CAR"),
            ("map", "MAP"),
            ("pen", "PEN"),
            ("cup", "CUP"),
            ("hat", "HAT"),
        ],
    ),
}
NUCLEUS_PROMPTS = {
    "obvious": "The capital of France is",
    "open": "My favourite thing to do on a Sunday is",
}
TOP_P = (0.5, 0.8, 0.9, 0.95)
SHOWN = 60


def prompt(description: str, items: list[tuple[str, str]], i: int, k: int) -> str:
    shots = [items[(i + j + 1) % len(items)] for j in range(k)]
    return "\n".join([description, *(f"{q} => {a}" for q, a in shots), f"{items[i][0]} =>"])


@torch.no_grad()
def last_logits(model, tok, texts: list[str]) -> torch.Tensor:
    """Next-token logits after each text, in one batch: right-padded, read at each last position.

    The mask is causal, so position t never sees the padding after it: no attention mask needed.
    """
    ids = [tok.encode(t, add_special_tokens=False) for t in texts]
    width = max(map(len, ids))
    batch = torch.tensor([row + [0] * (width - len(row)) for row in ids])
    hidden = model.model(batch)[torch.arange(len(ids)), torch.tensor([len(r) - 1 for r in ids])]
    return model.lm_head(hidden)


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    model, tok = smollm2.load_model(), smollm2.tokenizer()
    load_s = time.perf_counter() - start
    icl = []
    for name, (description, items) in TASKS.items():
        answers = [tok.encode(" " + a, add_special_tokens=False)[0] for _, a in items]
        assert len(set(answers)) == len(answers), name  # candidates must differ in the 1st token
        cands = torch.tensor(answers)
        for k in SHOTS:
            texts = [prompt(description, items, i, k) for i in range(len(items))]
            logits = last_logits(model, tok, texts)
            among = logits[:, cands].argmax(-1) == torch.arange(len(items))
            free = logits.argmax(-1) == cands
            p_right = logits.softmax(-1)[torch.arange(len(items)), cands]
            icl.append(
                {
                    "task": name,
                    "shots": k,
                    "among_candidates": among.float().mean().item(),
                    "free": free.float().mean().item(),
                    "p_answer": p_right.mean().item(),
                    "prompt_tokens": max(
                        len(tok.encode(t, add_special_tokens=False)) for t in texts
                    ),
                }
            )
            print(icl[-1], flush=True)
    nucleus = {}
    logits = last_logits(model, tok, list(NUCLEUS_PROMPTS.values()))
    for (key, text), row in zip(NUCLEUS_PROMPTS.items(), logits):
        probs = row.softmax(-1)
        top = probs.topk(SHOWN)
        nucleus[key] = {
            "prompt": text,
            "top_probs": [round(p, 6) for p in top.values.tolist()],
            "top_tokens": [tok.decode([i]) for i in top.indices.tolist()],
            "kept": {
                str(p): int((sampling_probs(row[None], 1.0, None, p) > 0).sum()) for p in TOP_P
            },
        }
        print(key, nucleus[key]["top_tokens"][:5], nucleus[key]["kept"], flush=True)
    result = {
        "model": "SmolLM2-135M-Instruct (course GGUF, dequantised to float32)",
        "machine": f"{platform.processor() or platform.machine()}, 1 torch thread",
        "tasks": {name: {"description": d, "items": items} for name, (d, items) in TASKS.items()},
        "icl": icl,
        "nucleus": nucleus,
        "load_seconds": load_s,
        "seconds": time.perf_counter() - start,
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
