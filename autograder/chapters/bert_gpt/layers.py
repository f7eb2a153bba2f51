"""``bert_gpt.encoder_layer, bert_gpt.bert_model, bert_gpt.decoder_block, bert_gpt.gpt2``: BERT's
post-LN layer and encoder; GPT-2's pre-LN block and language model (final LN, tied head).

Known mistakes, then the cases, then the registration. The graded sub-blocks inside each
(``self_attn``, ``embeddings``, ``layers.*``) are listed in ``_common.SUBMODULES``.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from autograder.chapters.bert_gpt._common import (
    BERT_PARTS,
    GPT2_PARTS,
    LAYER_PARTS,
    TOL,
    _randn,
    _ri,
)
from autograder.checks.spec import Case, Step, call_case, register_pair
from course import bert_gpt as ref


# --- known mistakes ------------------------------------------------------------------------------
class _EncoderPreLN(ref.EncoderLayer):
    def forward(self, x, attention_mask=None):
        h = x + self.self_attn(self.norm1(x), attention_mask)
        return h + self.linear2(F.gelu(self.linear1(self.norm2(h))))


class _EncoderTanhGelu(ref.EncoderLayer):
    def forward(self, x, attention_mask=None):
        h = self.norm1(x + self.self_attn(x, attention_mask))
        return self.norm2(h + self.linear2(ref.gelu_tanh(self.linear1(h))))


class _BertMaskIgnored(ref.BertModel):
    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        return super().forward(input_ids, token_type_ids, None)


class _DecoderPostLN(ref.DecoderBlock):
    def forward(self, x):
        h = self.norm1(x + self.self_attn(x, causal=True))
        return self.norm2(h + self.linear2(ref.gelu_tanh(self.linear1(h))))


class _DecoderNotCausal(ref.DecoderBlock):
    def forward(self, x):
        h = x + self.self_attn(self.norm1(x))
        return h + self.linear2(ref.gelu_tanh(self.linear1(self.norm2(h))))


class _NoFinalNorm(ref.GPT2):
    def forward(self, input_ids):
        t = input_ids.shape[1]
        x = self.wte(input_ids) + self.wpe(torch.arange(t, device=input_ids.device))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(x)


class _NoPositions(ref.GPT2):
    def forward(self, input_ids):
        x = self.wte(input_ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.ln_f(x))


# --- cases ---------------------------------------------------------------------------------------
def _pad_mask(gen, b, t):
    mask = torch.ones(b, t, dtype=torch.long)
    if t > 1:
        mask[0, t - _ri(gen, 1, t - 1) :] = 0  # right padding, as BERT batches are
    return mask


def _encoder_cases(gen, device, visible=False):
    # (D, H, F, B, T, padded, dtype)
    table = [(16, 4, 32, 2, 6, False, None), (12, 3, 20, 2, 5, True, None)]
    if not visible:
        table += [
            (24, 6, 48, 3, 8, True, None),
            (8, 1, 16, 1, 1, False, None),
            (20, 5, 40, 2, 7, True, "bfloat16"),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(8, 2, 16, 1, 4, False, "bfloat16")]
    for d, h, f, b, t, padded, dtype in table:
        x = _randn(gen, b, t, d, dtype=getattr(torch, dtype) if dtype else torch.float32)
        kwargs = {"attention_mask": _pad_mask(gen, b, t)} if padded else {}
        grads = not visible and dtype is None
        yield Case(
            f"D={d}, heads={h}, F={f}, x{tuple(x.shape)}"
            + (", right-padded" if padded else "")
            + (f", {dtype}" if dtype else ""),
            [Step((x,), kwargs)],
            init={"hidden_size": d, "num_heads": h, "intermediate_size": f, "eps": 1e-12},
            grad_wrt=(0,) if grads else (),
            param_grads=grads,
            device=device,
            dtype=dtype,
        )


def _bert_cases(gen, device, visible=False):
    n = 1 if visible else 3
    for i in range(n):
        d, h = [(16, 4), (12, 2), (24, 3)][i]
        b, t = _ri(gen, 2, 3), [6, 9, 1][i]
        ids = torch.randint(0, 40, (b, t), generator=gen)
        tt = torch.zeros(b, t, dtype=torch.long)
        tt[:, t // 2 :] = 1
        mask = _pad_mask(gen, b, t)
        yield Case(
            f"2 layers, D={d}, heads={h}, ids{tuple(ids.shape)}, segments and right padding",
            [Step((ids, tt, mask))],
            init={
                "vocab_size": 40,
                "hidden_size": d,
                "num_layers": 2,
                "num_heads": h,
                "intermediate_size": 2 * d,
                "max_position_embeddings": 16,
                "type_vocab_size": 2,
                "eps": 1e-12,
            },
            param_grads=not visible and i == 0,
            device=device,
        )


def _decoder_cases(gen, device, visible=False):
    table = [(16, 4, 2, 5, None)]
    if not visible:
        table += [(24, 3, 3, 8, None), (8, 1, 1, 1, None), (12, 6, 2, 7, "bfloat16")]
    else:  # the dtype rule, shown on CPU
        table += [(8, 2, 1, 4, "bfloat16")]
    for d, h, b, t, dtype in table:
        x = _randn(gen, b, t, d, dtype=getattr(torch, dtype) if dtype else torch.float32)
        grads = not visible and dtype is None
        yield Case(
            f"D={d}, heads={h}, x{tuple(x.shape)}" + (f", {dtype}" if dtype else ""),
            [Step((x,))],
            init={"hidden_size": d, "num_heads": h, "eps": 1e-5},
            grad_wrt=(0,) if grads else (),
            param_grads=grads,
            device=device,
            dtype=dtype,
        )


def _gpt2_init(i):
    d, h = [(16, 4), (12, 3), (24, 2)][i % 3]
    return {
        "vocab_size": 37,
        "max_positions": 24,
        "hidden_size": d,
        "num_layers": 2,
        "num_heads": h,
        "eps": 1e-5,
    }


def _gpt2_cases(gen, device, visible=False):
    for i, t in enumerate([7] if visible else [7, 1, 24]):
        init = _gpt2_init(i)
        ids = torch.randint(0, 37, (_ri(gen, 1, 3), t), generator=gen)
        label = f"2 blocks, D={init['hidden_size']}, heads={init['num_heads']}"
        # wte.weight and lm_head.weight: the same tied gradient
        yield call_case(
            f"{label}, ids{tuple(ids.shape)}",
            ids,
            init=init,
            param_grads=not visible,
            device=device,
        )


# --- registration --------------------------------------------------------------------------------
register_pair(
    name="bert_gpt.encoder_layer",
    target="EncoderLayer",
    reference=ref.EncoderLayer,
    cases=_encoder_cases,
    tol=TOL,
    misconceptions={
        "pre-LN (x + f(norm(x))) instead of BERT's post-LN (norm(x + f(x)))": _EncoderPreLN,
        "GELU's tanh approximation instead of the exact erf form BERT uses": _EncoderTanhGelu,
    },
    submodules=LAYER_PARTS,
)
register_pair(
    name="bert_gpt.bert_model",
    target="BertModel",
    reference=ref.BertModel,
    cases=_bert_cases,
    tol=TOL,
    misconceptions={"attention_mask not passed to the layers": _BertMaskIgnored},
    submodules=BERT_PARTS,
)
register_pair(
    name="bert_gpt.decoder_block",
    target="DecoderBlock",
    reference=ref.DecoderBlock,
    cases=_decoder_cases,
    tol=TOL,
    misconceptions={
        "post-LN (norm(x + f(x))) instead of GPT-2's pre-LN (x + f(norm(x)))": _DecoderPostLN,
        "attention not causal: a decoder must not see later tokens": _DecoderNotCausal,
    },
    submodules=LAYER_PARTS,
)
register_pair(
    name="bert_gpt.gpt2",
    target="GPT2",
    reference=ref.GPT2,
    cases=_gpt2_cases,
    tol=TOL,
    misconceptions={
        "the final LayerNorm ln_f is not applied before the head": _NoFinalNorm,
        "position embeddings wpe not added": _NoPositions,
    },
    submodules=GPT2_PARTS,
)
