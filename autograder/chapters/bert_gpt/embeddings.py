"""``bert_gpt.embeddings``: BERT's input embeddings, LayerNorm(token + position + segment).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.bert_gpt._common import TOL, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import bert_gpt as ref


class _NoSegment(ref.BertEmbeddings):
    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        return super().forward(input_ids, torch.zeros_like(input_ids), position_ids)


class _NormBeforePositions(ref.BertEmbeddings):
    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        b, t = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if position_ids is None:
            position_ids = torch.arange(t, device=input_ids.device).expand(b, t)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        return self.LayerNorm(x) + self.position_embeddings(position_ids)


class _PositionsFromOne(ref.BertEmbeddings):
    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        if position_ids is None:
            b, t = input_ids.shape
            position_ids = torch.arange(1, t + 1, device=input_ids.device).expand(b, t)
        return super().forward(input_ids, token_type_ids, position_ids)


def _cases(gen, device, visible=False):
    # (V, D, P, B, T, with segments, with positions, dtype)
    table = [(30, 16, 20, 2, 7, True, False, None), (50, 8, 12, 1, 5, False, False, None)]
    if not visible:
        table += [
            (30, 24, 16, 3, 16, True, False, None),  # T = P: the last position is used
            (20, 12, 10, 2, 1, True, False, None),  # length 1
            (40, 16, 30, 2, 6, True, True, None),  # explicit position ids (an offset)
            (30, 32, 20, 2, 9, True, False, "bfloat16"),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(20, 8, 10, 1, 4, True, False, "bfloat16")]
    for v, d, p, b, t, seg, pos, dtype in table:
        ids = torch.randint(0, v, (b, t), generator=gen)
        args: tuple = (ids,)
        label = f"V={v}, D={d}, P={p}, ids{tuple(ids.shape)}"
        if seg:  # sentence A then sentence B, split at a random point
            split = _ri(gen, 0, t)
            tt = torch.zeros(b, t, dtype=torch.long)
            tt[:, split:] = 1
            args = (ids, tt)
            label += f", segment B from position {split}"
        if pos:
            start = _ri(gen, 1, p - t)
            args = (*args, torch.arange(start, start + t).expand(b, t).contiguous())
            label += f", position_ids from {start}"
        grads = not visible and dtype is None
        yield Case(
            label + (f", {dtype}" if dtype else ""),
            [Step(args)],
            init={
                "vocab_size": v,
                "hidden_size": d,
                "max_position_embeddings": p,
                "type_vocab_size": 2,
            },
            param_grads=grads,
            device=device,
            dtype=dtype,
        )


register_pair(
    name="bert_gpt.embeddings",
    target="BertEmbeddings",
    reference=ref.BertEmbeddings,
    cases=_cases,
    tol=TOL,
    misconceptions={
        "segment (token type) embeddings not added": _NoSegment,
        "LayerNorm applied before the position embeddings are added": _NormBeforePositions,
        "positions counted from 1 instead of 0": _PositionsFromOne,
    },
)
