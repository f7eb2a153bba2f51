"""``bert_gpt.mlm``: BERT's masked-LM corruption (15% chosen; 80% [MASK], 10% random, 10% kept).

The contract fixes the random draws (three tensors from one seeded generator), so outputs are
compared exactly; the distributional test against Hugging Face's collator is in the oracle tests.
Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.bert_gpt._common import _ri
from autograder.checks.spec import Case, Step, register_pair
from course import bert_gpt as ref


def _draws(input_ids, vocab_size, seed):
    gen = torch.Generator().manual_seed(seed)
    shape = tuple(input_ids.shape)
    draws = (
        torch.rand(shape, generator=gen),
        torch.rand(shape, generator=gen),
        torch.randint(vocab_size, shape, generator=gen),
    )
    return tuple(d.to(input_ids.device) for d in draws)  # drawn on the CPU, as the contract says


def _corrupt(input_ids, chosen, replace_zone, r, random_ids, mask_token_id):
    out = torch.where(replace_zone & (r < 0.8), mask_token_id, input_ids)
    out = torch.where(replace_zone & (r >= 0.8) & (r < 0.9), random_ids, out)
    labels = torch.where(chosen, input_ids, -100)
    return out, labels


def _special_chosen(
    input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability=0.15
):
    u, r, rnd = _draws(input_ids, vocab_size, seed)
    chosen = u < mlm_probability
    return _corrupt(input_ids, chosen, chosen, r, rnd, mask_token_id)


def _all_tokens_split(
    input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability=0.15
):
    u, r, rnd = _draws(input_ids, vocab_size, seed)
    chosen = (u < mlm_probability) & ~special_tokens_mask
    return _corrupt(input_ids, chosen, ~special_tokens_mask, r, rnd, mask_token_id)


def _all_mask(
    input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability=0.15
):
    u, r, rnd = _draws(input_ids, vocab_size, seed)
    chosen = (u < mlm_probability) & ~special_tokens_mask
    return torch.where(chosen, mask_token_id, input_ids), torch.where(chosen, input_ids, -100)


def _labels_everywhere(
    input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability=0.15
):
    out, _ = ref.mask_tokens(
        input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability
    )
    return out, input_ids.clone()


def _cases(gen, device, visible=False):
    # (B, T, V, probability, pad rows)
    table = [(2, 12, 40, 0.15, False), (3, 20, 100, 0.5, True)]
    if not visible:
        table += [
            (1, 1, 30, 0.15, False),  # a lone [CLS]: nothing may be chosen
            (4, 64, 1000, 0.15, True),
            (2, 30, 50, 0.9, True),
            (3, 16, 25, 0.0, False),  # probability 0: nothing changes, every label -100
        ]
    for b, t, v, prob, pad in table:
        cls_id, sep_id, pad_id, mask_id = 2, 3, 0, 4
        ids = torch.randint(5, v, (b, t), generator=gen)
        ids[:, 0] = cls_id
        if t > 1:
            ids[:, -1] = sep_id
        if pad and t > 3:
            n = _ri(gen, 1, t - 2)
            ids[0, t - n :] = pad_id
            ids[0, t - n - 1] = sep_id
        special = (ids == cls_id) | (ids == sep_id) | (ids == pad_id)
        seed = _ri(gen, 0, 2**31 - 1)
        yield Case(
            f"ids{tuple(ids.shape)}, V={v}, mlm_probability={prob}, seed={seed}"
            + (", padded row" if pad else ""),
            [Step((ids, special, mask_id, v, seed), {"mlm_probability": prob})],
            device=device,
        )


register_pair(
    name="bert_gpt.mlm",
    target="mask_tokens",
    reference=ref.mask_tokens,
    cases=_cases,
    misconceptions={
        "special tokens ([CLS], [SEP], [PAD]) can be chosen: exclude them with special_tokens_mask": _special_chosen,
        "80/10/10 applied to every token instead of only the chosen ones": _all_tokens_split,
        "every chosen token replaced by [MASK] (no 10% random, no 10% unchanged)": _all_mask,
        "labels must be -100 wherever a token was not chosen": _labels_everywhere,
    },
)
