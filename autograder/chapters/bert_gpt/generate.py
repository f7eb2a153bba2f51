"""``bert_gpt.generate``: decoding without a cache (greedy, temperature, top-k), graded through
``GPT2.generate``, which calls the notebook's ``generate``.

Most cases use a GPT2 with no blocks (embeddings, final LN and the tied head only), so decoding is
graded with as little dependence on the blocks as possible. Known mistakes, then the cases, then the
registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.bert_gpt._common import GPT2_PARTS, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import bert_gpt as ref
from coursekit.hooks import generated_ids


def _decode_with(pick):
    """A GPT2 whose generate uses ``pick(logits, temperature, top_k, gen)`` for the next token."""

    class Variant(ref.GPT2):
        @torch.no_grad()
        def generate(self, input_ids, max_new_tokens, temperature=0.0, top_k=None, seed=None):
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            ids = input_ids
            for _ in range(max_new_tokens):
                logits = self(ids)[:, -1].float()
                ids = torch.cat([ids, pick(logits, temperature, top_k, gen)], dim=1)
            return ids

    return Variant


def _sample(logits, gen):
    """Draw on the CPU with the seeded CPU generator, as the contract says, then move back."""
    return torch.multinomial(logits.softmax(-1).cpu(), 1, generator=gen).to(logits.device)


def _k_plus_one(logits, temperature, top_k, gen):
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    k = None if top_k is None else top_k + 1
    return _sample(ref.top_k_filter(logits / temperature, k), gen)


def _temperature_ignored(logits, temperature, top_k, gen):
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    return _sample(ref.top_k_filter(logits, top_k), gen)


def _top_k_after_temperature_on_probs(logits, temperature, top_k, gen):
    """Sampling from the unfiltered softmax: top-k forgotten."""
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    return _sample(logits / temperature, gen)


def _init(layers, i=0):
    d, h = [(16, 4), (12, 3)][i % 2]
    return {
        "vocab_size": 29,
        "max_positions": 32,
        "hidden_size": d,
        "num_layers": layers,
        "num_heads": h,
        "eps": 1e-5,
    }


def _cases(gen, device, visible=False):
    # (layers, B, prompt length, new tokens, temperature, top_k)
    table = [(0, 2, 3, 6, 0.0, None), (0, 2, 2, 8, 1.0, 5)]
    if not visible:
        table += [
            (1, 1, 1, 5, 0.0, None),  # a one-token prompt, one block
            (0, 3, 4, 6, 50.0, 1),  # top_k=1 is greedy at any temperature
            (0, 2, 3, 10, 0.7, 3),
            (0, 2, 2, 10, 1.3, None),  # temperature only
            (0, 2, 3, 6, 1.0, 100),  # top_k > V keeps every token
            (1, 2, 5, 6, 0.8, 2),
            # long runs at temperatures far from 1: 72 draws, so a wrong temperature or a wrong
            # top-k cannot agree with the reference by chance
            (0, 3, 2, 24, 3.0, None),
            (0, 3, 2, 24, 0.3, None),
            (0, 3, 2, 24, 2.0, 2),
        ]
    for i, (layers, b, p, n, temp, k) in enumerate(table):
        ids = torch.randint(0, 29, (b, p), generator=gen)
        kwargs = {"temperature": temp, "top_k": k}
        if temp > 0:
            kwargs["seed"] = _ri(gen, 0, 10_000)
        yield Case(
            f"{layers} block(s), prompt {tuple(ids.shape)}, {n} new tokens, temperature={temp}, "
            f"top_k={k}" + (f", seed={kwargs['seed']}" if "seed" in kwargs else ""),
            [Step((ids, n), kwargs, method="generate")],
            init=_init(layers, i),
            device=device,
        )


_compare = generated_ids()  # coursekit.hooks: shared with the kit


register_pair(
    name="bert_gpt.generate",
    target="GPT2",
    reference=ref.GPT2,
    cases=_cases,
    compare=_compare,
    misconceptions={
        "top-k keeps k + 1 tokens": _decode_with(_k_plus_one),
        "temperature ignored when sampling": _decode_with(_temperature_ignored),
        "top-k ignored when sampling": _decode_with(_top_k_after_temperature_on_probs),
    },
    submodules=GPT2_PARTS,
)
