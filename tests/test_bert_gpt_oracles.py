"""Chapter 01-bert-gpt: the references against independent oracles (never against themselves).

Oracles: torch's scaled_dot_product_attention, nn.MultiheadAttention and nn.TransformerEncoderLayer;
Hugging Face's BertEmbeddings, BertLayer, BertModel, GPT2Block, GPT2LMHeadModel (random small
configs, weights copied in, and all-MiniLM-L6-v2's real weights), DataCollatorForLanguageModeling
(masking rates), TopKLogitsWarper and greedy generate.
"""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT
from torch import nn
from torch.nn import functional as F

from course import bert_gpt as ref

transformers = pytest.importorskip("transformers")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _sdpa_mask(b, t, s, pad, causal):
    """torch's boolean attn_mask (True = attend) for the same rules."""
    allowed = torch.ones(b, 1, t, s, dtype=torch.bool)
    if causal:
        allowed &= torch.ones(t, s, dtype=torch.bool).tril(s - t)
    if pad is not None:
        allowed &= pad.bool()[:, None, None, :]
    return allowed


@pytest.mark.parametrize(
    "b,h,t,s,dh,causal,padded",
    [
        (2, 3, 5, 5, 8, False, False),
        (2, 3, 5, 5, 8, True, False),
        (3, 2, 6, 6, 4, False, True),
        (3, 2, 6, 6, 4, True, True),  # left padding + causal: fully masked rows -> zeros
        (1, 1, 1, 1, 16, True, False),
        (2, 2, 3, 7, 8, True, False),  # queries are the last 3 of 7 positions
    ],
)
def test_sdpa_matches_torch(b, h, t, s, dh, causal, padded):
    g = gen(1)
    q, k, v = (torch.randn(b, h, n, dh, generator=g) for n in (t, s, s))
    pad = None
    if padded:
        pad = torch.ones(b, s, dtype=torch.long)
        pad[0, :2] = 0  # left padding in row 0
        pad[1, -3:] = 0  # right padding in row 1
    got = ref.scaled_dot_product_attention(q, k, v, pad, causal)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=_sdpa_mask(b, t, s, pad, causal))
    torch.testing.assert_close(got, want)
    if padded and causal:
        assert (got[0, :, :2] == 0).all()  # the rows of the two left-padded queries


def test_mha_loads_into_torch_multihead_attention():
    g = gen(2)
    d, h = 24, 3
    mine = ref.MultiHeadAttention(d, h)
    theirs = nn.MultiheadAttention(d, h, batch_first=True)
    with torch.no_grad():
        for p in mine.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    theirs.load_state_dict(mine.state_dict())  # the same parameter names
    x = torch.randn(2, 6, d, generator=g)
    pad = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    want, _ = theirs(x, x, x, key_padding_mask=~pad.bool(), need_weights=False)
    torch.testing.assert_close(mine(x, pad), want)
    causal = torch.ones(6, 6, dtype=torch.bool).triu(1)
    want, _ = theirs(x, x, x, attn_mask=causal, need_weights=False)
    torch.testing.assert_close(mine(x, causal=True), want)


def _randomise(module, g, scale=0.3):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale + (1.0 if p.dim() == 1 else 0.0))


def _bert_config(**kw):
    from transformers import BertConfig

    base = dict(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=40,
        type_vocab_size=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        attn_implementation="eager",
    )
    return BertConfig(**{**base, **kw})


def test_embeddings_match_hf_bert_embeddings():
    from transformers.models.bert.modeling_bert import BertEmbeddings

    g = gen(3)
    theirs = BertEmbeddings(_bert_config()).eval()
    _randomise(theirs, g)
    mine = ref.BertEmbeddings(50, 32, 40, 2)
    missing = mine.load_state_dict(theirs.state_dict(), strict=False)
    assert not missing.missing_keys
    ids = torch.randint(0, 50, (3, 9), generator=g)
    tt = torch.randint(0, 2, (3, 9), generator=g)
    torch.testing.assert_close(mine(ids, tt), theirs(ids, tt))
    torch.testing.assert_close(mine(ids), theirs(ids))


def test_encoder_layer_loads_into_torch_transformer_encoder_layer():
    g = gen(4)
    mine = ref.EncoderLayer(32, 4, 48, eps=1e-12)
    _randomise(mine, g)
    theirs = nn.TransformerEncoderLayer(
        32, 4, 48, dropout=0.0, activation="gelu", layer_norm_eps=1e-12, batch_first=True
    ).eval()
    theirs.load_state_dict(mine.state_dict())
    x = torch.randn(2, 7, 32, generator=g)
    pad = torch.tensor([[1] * 7, [1] * 5 + [0] * 2])
    want = theirs(x, src_key_padding_mask=~pad.bool())
    got = mine(x, pad)
    torch.testing.assert_close(got[pad.bool()], want[pad.bool()])  # torch's fast path zeroes pads
    torch.testing.assert_close(mine(x), theirs(x))


def test_bert_model_matches_hf_bert_model_with_padding():
    from transformers import BertModel

    g = gen(5)
    theirs = BertModel(_bert_config(), add_pooling_layer=False).eval()
    _randomise(theirs, g, 0.2)
    mine = ref.BertModel(50, 32, 2, 4, 48, 40, 2)
    mine.load_state_dict(ref.bert_state_from_hf(theirs.state_dict()))
    ids = torch.randint(0, 50, (3, 8), generator=g)
    tt = torch.randint(0, 2, (3, 8), generator=g)
    mask = torch.ones(3, 8, dtype=torch.long)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    want = theirs(input_ids=ids, token_type_ids=tt, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(mine(ids, tt, mask), want, rtol=1e-4, atol=1e-5)


def test_decoder_block_loads_into_torch_pre_ln_layer():
    g = gen(6)
    mine = ref.DecoderBlock(24, 3)
    _randomise(mine, g)
    theirs = nn.TransformerEncoderLayer(
        24,
        3,
        96,
        dropout=0.0,
        activation=ref.gelu_tanh,
        layer_norm_eps=1e-5,
        batch_first=True,
        norm_first=True,
    ).eval()
    theirs.load_state_dict(mine.state_dict())
    x = torch.randn(2, 6, 24, generator=g)
    causal = nn.Transformer.generate_square_subsequent_mask(6)
    torch.testing.assert_close(mine(x), theirs(x, src_mask=causal, is_causal=True))


def _gpt2_pair(g):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=61,
        n_positions=32,
        n_embd=24,
        n_layer=2,
        n_head=3,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        attn_implementation="eager",
    )
    theirs = GPT2LMHeadModel(cfg).eval()
    _randomise(theirs, g, 0.2)
    mine = ref.GPT2(61, 32, 24, 2, 3)
    mine.load_state_dict(ref.gpt2_state_from_hf(theirs.state_dict()))
    return mine.eval(), theirs


def test_gpt2_logits_and_loss_match_hf():
    g = gen(7)
    mine, theirs = _gpt2_pair(g)
    ids = torch.randint(0, 61, (2, 10), generator=g)
    labels = ids.clone()
    labels[0, :4] = -100  # e.g. a prompt excluded from the loss
    out = theirs(input_ids=ids, labels=labels)
    logits = mine(ids)
    torch.testing.assert_close(logits, out.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ref.causal_lm_loss(logits, labels), out.loss)
    assert mine.lm_head.weight is mine.wte.weight


def test_greedy_generation_matches_hf_generate():
    g = gen(8)
    mine, theirs = _gpt2_pair(g)
    ids = torch.randint(0, 61, (2, 4), generator=g)
    want = theirs.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=0,
    )
    torch.testing.assert_close(mine.generate(ids, 8), want)


def test_top_k_filter_matches_hf_warper():
    from transformers.generation.logits_process import TopKLogitsWarper

    g = gen(9)
    logits = torch.randn(4, 30, generator=g)
    for k in (1, 5, 29):
        want = TopKLogitsWarper(k)(None, logits.clone())
        torch.testing.assert_close(ref.top_k_filter(logits, k), want)


def test_sampling_frequencies_follow_top_k_softmax():
    """Sampling from a fixed next-token distribution: empirical frequencies vs softmax(top-k)."""

    class Fixed(nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = logits

        def forward(self, ids):
            return self.logits.expand(ids.shape[0], ids.shape[1], -1)

    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0])
    ids = torch.zeros(4000, 1, dtype=torch.long)
    out = ref.generate(Fixed(logits), ids, 1, temperature=0.7, top_k=3, seed=0)[:, -1]
    freq = torch.bincount(out, minlength=5).double() / len(out)
    want = torch.softmax(torch.tensor([2.0, 1.0, 0.5]) / 0.7, 0).double()
    assert freq[3:].sum() == 0
    torch.testing.assert_close(freq[:3], want, atol=0.03, rtol=0)


def test_mlm_rates_match_hf_collator():
    """Distributional: over many draws the course function and Hugging Face's collator choose 15%
    of maskable tokens, then 80/10/10; neither ever touches a special token."""
    from tokenizers import Tokenizer
    from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_file(str(ref.minilm_dir() / "tokenizer.json")),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    g = gen(10)
    body = torch.randint(1000, tok.vocab_size, (64, 62), generator=g)
    ids = torch.cat(
        [torch.full((64, 1), tok.cls_token_id), body, torch.full((64, 1), tok.sep_token_id)], 1
    )
    ids[::4, -10:] = tok.pad_token_id
    special = torch.tensor(
        [tok.get_special_tokens_mask(r, already_has_special_tokens=True) for r in ids.tolist()]
    ).bool()
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, seed=0)

    def rates(draws):
        chosen = masked = rand = kept = touched_special = 0
        for new, labels in draws:
            c = labels != -100
            chosen += c.sum().item()
            masked += (c & (new == tok.mask_token_id)).sum().item()
            kept += (c & (new == ids)).sum().item()
            rand += (c & (new != tok.mask_token_id) & (new != ids)).sum().item()
            touched_special += (c & special).sum().item() + ((new != ids) & special).sum().item()
        n = (~special).sum().item() * len(draws)
        return chosen / n, masked / chosen, rand / chosen, kept / chosen, touched_special

    mine = [ref.mask_tokens(ids, special, tok.mask_token_id, tok.vocab_size, s) for s in range(40)]
    theirs = []
    for _ in range(40):
        batch = collator.torch_call([{"input_ids": r} for r in ids.tolist()])
        theirs.append((batch["input_ids"], batch["labels"]))
    a, b = rates(mine), rates(theirs)
    assert a[4] == 0 and b[4] == 0
    # 40 draws of ~3,400 maskable tokens: standard errors ~0.001 (chosen) and ~0.004 (the splits)
    for x, y, want in zip(a[:4], b[:4], (0.15, 0.8, 0.1, 0.1)):
        assert abs(x - want) < 0.015 and abs(y - want) < 0.015, (a, b)


def test_mask_tokens_is_deterministic_given_seed():
    ids = torch.randint(5, 100, (3, 20), generator=gen(11))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    a = ref.mask_tokens(ids, special, 4, 100, seed=7)
    b = ref.mask_tokens(ids, special, 4, 100, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_minilm_reproduces_hf_bert_sentence_embeddings():
    """Real weights: the course BertModel with all-MiniLM-L6-v2 against Hugging Face's BertModel +
    mean pooling + L2 normalisation (sentence-transformers' recipe for this model)."""
    from transformers import BertModel

    mine, tok = ref.load_minilm()
    theirs = BertModel.from_pretrained(str(ref.minilm_dir()), attn_implementation="eager").eval()
    sentences = [
        "A man is playing a guitar.",
        "Someone plays an instrument on stage.",
        "The stock market fell sharply today.",
        "[SEP] tokens and padding must not change a sentence's vector.",
    ]
    got = ref.encode_sentences(mine, tok, sentences)
    enc = tok.encode_batch(sentences)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    with torch.no_grad():
        hidden = theirs(input_ids=ids, attention_mask=mask).last_hidden_state
    want = F.normalize((hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    sims = got @ got.T
    assert sims[0, 1] > sims[0, 2] + 0.3  # guitar ~ instrument, far from the stock market


def test_flash_attention_in_the_triton_interpreter():
    code = textwrap.dedent("""
        import torch
        import torch.nn.functional as F
        from course.bert_gpt import flash_attention, online_softmax_attention
        g = torch.Generator().manual_seed(0)
        for b, h, t, s, dh, causal in ((1, 2, 20, 20, 16, False), (2, 1, 17, 33, 32, True),
                                       (1, 1, 1, 1, 16, True)):
            q = torch.randn(b, h, t, dh, generator=g)
            k, v = (torch.randn(b, h, s, dh, generator=g) for _ in range(2))
            mask = torch.ones(t, s, dtype=torch.bool).tril(s - t)
            want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask if causal else None)
            torch.testing.assert_close(flash_attention(q, k, v, causal), want, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(online_softmax_attention(q, k, v, causal), want,
                                       rtol=1e-4, atol=1e-5)
        print("ok")
    """)
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_fused_attention_swap_keeps_minilm_outputs():
    """The benchmark's fused variant (torch's SDPA inside) equals the explicit reference."""
    model, tok = ref.load_minilm()
    sentences = ["A short one.", "A somewhat longer sentence, with padding for the first."]
    want = ref.encode_sentences(model, tok, sentences)
    got = ref.encode_sentences(ref.use_fused_attention(model), tok, sentences)
    assert isinstance(model.layers[0].self_attn.sdpa, ref.FusedSDPA)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_encoder_layer_matches_hf_bert_layer():
    """One Hugging Face BertLayer (eager attention, no mask) with its weights renamed."""
    from transformers.models.bert.modeling_bert import BertLayer

    g = gen(12)
    theirs = BertLayer(_bert_config()).eval()
    _randomise(theirs, g, 0.2)
    hf = {f"encoder.layer.0.{k}": v for k, v in theirs.state_dict().items()}
    mine = ref.EncoderLayer(32, 4, 48)
    renamed = ref.bert_state_from_hf(hf)
    mine.load_state_dict({k.removeprefix("layers.0."): v for k, v in renamed.items()})
    x = torch.randn(2, 7, 32, generator=g)
    out = theirs(x)
    out = out[0] if isinstance(out, tuple) else out
    torch.testing.assert_close(mine(x), out, rtol=1e-4, atol=1e-5)


def test_decoder_block_matches_hf_gpt2_block():
    """One Hugging Face GPT2Block (eager attention) with an additive causal mask, weights renamed
    from its Conv1D layout."""
    from transformers import GPT2Config
    from transformers.models.gpt2.modeling_gpt2 import GPT2Block

    g = gen(13)
    cfg = GPT2Config(
        n_embd=24, n_head=3, n_layer=1, n_positions=16, resid_pdrop=0.0, attn_pdrop=0.0,
        attn_implementation="eager",
    )  # fmt: skip
    theirs = GPT2Block(cfg).eval()
    _randomise(theirs, g, 0.2)
    hf = {f"h.0.{k}": v for k, v in theirs.state_dict().items()}
    hf |= {"wte.weight": torch.zeros(5, 24), "wpe.weight": torch.zeros(16, 24)}
    hf |= {"ln_f.weight": torch.ones(24), "ln_f.bias": torch.zeros(24)}
    block = {
        k.removeprefix("layers.0."): v
        for k, v in ref.gpt2_state_from_hf(hf).items()
        if k.startswith("layers.0.")
    }
    mine = ref.DecoderBlock(24, 3)
    mine.load_state_dict(block)
    x = torch.randn(2, 6, 24, generator=g)
    causal = torch.full((6, 6), float("-inf")).triu(1)[None, None]
    out = theirs(x, attention_mask=causal)
    out = out[0] if isinstance(out, tuple) else out
    torch.testing.assert_close(mine(x), out, rtol=1e-4, atol=1e-5)
