"""Facts the book states, each guarded by a test that would have caught its earlier mistake.

Fast tests only (a few seconds in total): no page is executed whole; where a figure's claim
matters, the page's own code cell is extracted and run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from course.llama import catalogue as llama_specs
from course.llama.catalogue import BY_NAME, SPECS, ffn_hidden_size, kv_cache_bytes

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

# intermediate_size in the released Hugging Face configs (Code Llama 34B for Llama 2 34B)
PUBLISHED_FFN = {
    "LLaMA-7B": 11008,
    "LLaMA-13B": 13824,
    "LLaMA-33B": 17920,
    "LLaMA-65B": 22016,
    "Llama-2-7B": 11008,
    "Llama-2-13B": 13824,
    "Llama-2-34B": 22016,
    "Llama-2-70B": 28672,
    "Llama-3-8B": 14336,
    "Llama-3-70B": 28672,
    "Llama-3.1-8B": 14336,
    "Llama-3.1-70B": 28672,
    "Llama-3.1-405B": 53248,
    "Llama-3.2-1B": 8192,
    "Llama-3.2-3B": 8192,
}


def page_cell(page: str, marker: str) -> str:
    """Source of the first ```{code-cell}``` of a book page that contains ``marker``."""
    text = (BOOK / page).read_text()
    for cell in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S):
        if marker in cell:
            return cell
    raise AssertionError(f"no code cell with {marker!r} in {page}")


# --- correction 2: FFN sizes come from the configs --------------------------------------------


@pytest.mark.parametrize("name", list(PUBLISHED_FFN))
def test_ffn_size_derived_from_config_matches_release(name):
    assert BY_NAME[name].intermediate_size == PUBLISHED_FFN[name]


def test_llama2_70b_is_not_a_multiple_of_256_rounding():
    plain = ffn_hidden_size(8192, 256, None)
    assert plain == 22016 and BY_NAME["Llama-2-70B"].ffn == 28672 != plain


def test_ffn_page_states_no_blanket_multiple_of_256():
    text = (BOOK / "03-llama" / "ffn-attention.md").read_text()
    assert "multiple of 256 (LLaMA 1/2)" not in text
    assert "28,672" in text


# --- parameter counts derived from configs ----------------------------------------------------


@pytest.mark.parametrize(
    "name, count",
    [
        ("Llama-2-7B", 6_738_415_616),
        ("Llama-3-8B", 8_030_261_248),
        ("Llama-2-70B", 68_976_648_192),
        ("Llama-3.2-1B", 1_235_814_400),
    ],
)
def test_parameter_count_matches_released_checkpoints(name, count):
    assert BY_NAME[name].parameter_count() == count


@pytest.mark.parametrize("name", ["Llama-3.2-1B", "Llama-2-70B"])
def test_parameter_count_matches_hugging_face_module(name):
    """Independent oracle: count the parameters of transformers' LlamaForCausalLM (meta device)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    s = BY_NAME[name]
    config = LlamaConfig(
        vocab_size=s.vocab_size,
        hidden_size=s.hidden_size,
        intermediate_size=s.intermediate_size,
        num_hidden_layers=s.num_hidden_layers,
        num_attention_heads=s.num_attention_heads,
        num_key_value_heads=s.num_key_value_heads,
        tie_word_embeddings=s.tie_word_embeddings,
    )
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    unique = {id(p): p for p in model.parameters()}.values()
    assert sum(p.numel() for p in unique) == s.parameter_count()


def test_every_published_size_is_close_to_the_config_count():
    for s in SPECS:
        assert abs(s.parameter_count() / 1e9 - s.params_b) / s.params_b < 0.04, s.name


# --- one KV-cache formula ----------------------------------------------------------------------


def test_kv_bytes_llama2_70b_100k_tokens():
    s = BY_NAME["Llama-2-70B"]
    expected = 2 * 1 * 100_000 * 8 * 128 * 2 * 80
    assert s.kv_bytes(100_000) == expected == 32_768_000_000
    assert (
        kv_cache_bytes(
            batch=1,
            seq_len=100_000,
            num_key_value_heads=s.num_key_value_heads,
            head_dim=s.head_dim,
            bytes_per=2,
            num_hidden_layers=s.num_hidden_layers,
        )
        == expected
    )


def test_kv_formula_is_what_the_reference_cache_allocates():
    """The page's claim (03-llama/kv-cache.md): the formula is exactly what a cache holds. The
    reference model's ``KVCache`` after a prefill of B = 3, T = 100 (fp32), and after one more
    decoded token, weighs what ``kv_cache_bytes`` says; ``head_dim`` is set apart from
    ``hidden_size / heads`` so that a formula using the hidden size would fail."""
    from course import llama

    cfg = llama.LlamaConfig(
        vocab_size=64, hidden_size=48, intermediate_size=64, num_hidden_layers=3,
        num_attention_heads=4, head_dim=16, num_key_value_heads=2,
    )  # fmt: skip
    torch.manual_seed(0)
    model = llama.LlamaForCausalLM(cfg).eval()
    cache = model.new_cache()

    def held() -> int:
        return sum(t.numel() * t.element_size() for t in cache.k + cache.v)

    with torch.no_grad():
        model(torch.randint(0, 64, (3, 100)), cache)
        assert held() == kv_cache_bytes(3, 100, 2, 16, 4, 3) == 2 * 3 * 100 * 2 * 16 * 4 * 3
        model(torch.randint(0, 64, (3, 1)), cache)
        assert held() == kv_cache_bytes(3, 101, 2, 16, 4, 3)


def test_old_public_names_still_work():
    s = BY_NAME["Llama-2-70B"]
    assert (s.d_model, s.layers, s.heads, s.kv_heads, s.ffn, s.vocab) == (
        8192,
        80,
        64,
        8,
        28672,
        32000,
    )
    assert llama_specs.SPECS and s.head_dim == 128


# --- corrections 3 and 9: chapter index facts and seed notes -----------------------------------


def test_llama2_data_growth_is_40_percent():
    l1 = max(s.tokens_t for s in SPECS if s.family == "LLaMA 1")
    l2 = max(s.tokens_t for s in SPECS if s.family == "Llama 2")
    assert l2 / l1 == pytest.approx(1.43, abs=0.01)
    text = (BOOK / "03-llama" / "index.md").read_text()
    assert "40% larger" in text
    assert "doubled the context to 4K and the data" not in text


def test_llama3_context_and_seed_notes():
    assert BY_NAME["Llama-3-8B"].context == 8192
    assert BY_NAME["Llama-3.1-8B"].context == 131072
    assert "2,048" in (BOOK / "03-llama" / "index.md").read_text()  # the note quoting the seed
    ffn = (BOOK / "03-llama" / "ffn-attention.md").read_text()
    assert "silu(gate_proj(x)) * up_proj(x)" in ffn


def test_model_tables_include_34b_and_llama_32():
    names = {s.name for s in SPECS}
    assert {"Llama-2-34B", "Llama-3.1-405B", "Llama-3.2-1B", "Llama-3.2-3B"} <= names


# --- correction 4: T5 bias -------------------------------------------------------------------


def test_positions_page_t5_bias_unscaled_and_cache_compatible():
    text = (BOOK / "03-llama" / "positions.md").read_text()
    assert r"(QK^\top + B_{\text{rel}})/\sqrt{d}" not in text
    assert r"\mathrm{softmax}\big(QK^\top + B\big)" in text
    namespace: dict = {"torch": torch}
    exec(page_cell("03-llama/positions.md", "cached decode vs full attention"), namespace)
    assert (namespace["step"] - namespace["full"][:, -1:]).abs().max() < 1e-5


# --- RoPE layouts: the permutation the GGUF loader undoes -------------------------------------


def test_llama_cpp_permutation_is_undone_and_preserves_scores():
    from course.llama import apply_rope, rope_cos_sin
    from course.llama.weights import _unpermute

    namespace: dict = {"torch": torch, "apply_rope": apply_rope, "rope_cos_sin": rope_cos_sin}
    exec(page_cell("03-llama/positions.md", "def rope_complex"), namespace)
    exec(page_cell("03-llama/positions.md", "def llama_cpp_permute"), namespace)
    permute = namespace["llama_cpp_permute"]
    w = torch.randn(3 * 16, 40)
    assert torch.equal(_unpermute(permute(w, 3), 3), w)
    assert (namespace["scores_half"] - namespace["scores_int"]).abs().max() < 1e-3
    assert (namespace["scores_half"] - namespace["wrong"]).abs().max() > 1.0


# --- correction 1: pre/post-norm gradients with a loss that depends on the weights -------------


def test_post_norm_gradients_grow_toward_the_output_pre_norm_flat():
    cell = page_cell("03-llama/normalization.md", "def grad_norms")
    cell = cell.split("post, pre = ")[0]  # the function only, not the figure
    namespace: dict = {}
    exec(cell, namespace)
    post = namespace["grad_norms"](pre_norm=False)
    pre = namespace["grad_norms"](pre_norm=True)
    assert post[-1] / post[0] > 2.5  # Xiong et al.: grows with the layer index
    assert 0.5 < pre[-1] / pre[0] < 1.5  # flat
    assert min(post + pre) > 1e-3  # real gradients, not eps artefacts (the old figure: ~1e-7)


# --- correction 5: sequential accumulation in 16 bits --------------------------------------------


def test_sequential_sum_rounds_in_16_bits():
    namespace: dict = {"torch": torch}
    cell = page_cell("00-prologue/tensors-dtypes.md", "def sequential_sum")
    exec(cell.split("traces = ")[0], namespace)
    total = {dt: namespace["sequential_sum"](0.01, 1000, dt)[-1].item() for dt in
             (torch.bfloat16, torch.float16)}  # fmt: skip
    assert total[torch.bfloat16] == pytest.approx(4.0, abs=0.01)
    assert total[torch.float16] == pytest.approx(9.953, abs=0.001)
    # what the page printed before: cumsum accumulates in higher precision and hides it
    assert torch.full((1000,), 0.01, dtype=torch.bfloat16).cumsum(0)[-1].item() == pytest.approx(
        10.0, abs=0.05
    )


# --- correction 6: the roofline uses the DRAM plateau, not an in-cache copy ---------------------


def test_dram_plateau_ignores_cache_sized_peaks():
    from course.roofline import dram_plateau

    sweep = [(1, 80e9), (4, 120e9), (32, 110e9), (64, 35e9), (128, 31e9), (256, 30e9), (512, 30e9)]
    assert dram_plateau(sweep) == 30e9  # median of the three largest buffers


def test_devices_page_sweeps_buffer_sizes():
    text = (BOOK / "00-prologue" / "measuring-devices.md").read_text()
    assert "bandwidth_sweep" in text and "dram_plateau" in text
    assert "32 * 2**20 // bytes_per" not in text


# --- correction 7: the RMSNorm benchmark measured page faults ----------------------------------


def test_rmsnorm_benchmark_is_consistent_across_sizes():
    data = json.loads((BOOK / "_static" / "benchmarks" / "llama_rmsnorm.json").read_text())
    assert "page faults / call" in data["columns"]
    base = {
        row[0]: float(row[2]) / eval(row[0].split()[0].replace("x", "*"))
        for row in data["rows"]
        if row[1].startswith("torch.nn.RMSNorm")
    }
    small = [v for k, v in base.items() if "576" in k]
    assert max(small) / min(small) < 3  # per element: 16x apart before the fix
    faults = [float(row[5]) for row in data["rows"]]
    assert max(faults) < 50
    compiled = [float(row[4]) for row in data["rows"] if row[1].startswith("torch.compile")]
    assert max(compiled) < 5  # the 20.3x was the artefact


# --- correction 8: bibliography -----------------------------------------------------------------


def _bib_entries() -> dict[str, str]:
    text = (ROOT / "references.bib").read_text()
    return {m.group(1): m.group(0) for m in re.finditer(r"@\w+\{(\w+),.*?\n\}", text, flags=re.S)}


def test_bibliography_entries():
    bib = _bib_entries()
    assert "Levskaya, Anselm" in bib["pope2023inference"]
    assert "Tie-Yan" in bib["xiong2020layernorm"] and "Tieyan" not in bib["xiong2020layernorm"]
    assert "Pretrained Models with Self Supervised Learning" in bib["seedlecture2025"]
    assert "VSP Lab" in bib["seedlecture2025"] and "NYCU" in bib["seedlecture2025"]
    year_a = re.search(r"year = \{(\w+)\}", bib["touvron2023llama"]).group(1)
    year_b = re.search(r"year = \{(\w+)\}", bib["touvron2023llama2"]).group(1)
    assert year_a != year_b  # two distinct labels, not "Touvron et al., 2023" twice


def test_every_citation_in_these_chapters_resolves():
    bib = _bib_entries()
    pages = list((BOOK / "00-prologue").glob("*.md")) + list((BOOK / "03-llama").glob("*.md"))
    cited = set()
    for page in pages:
        for group in re.findall(r"\{cite[:a-z]*\}`([^`]+)`", page.read_text()):
            cited.update(key.strip() for key in group.split(","))
    assert cited - set(bib) == set()
    for key in ("loshchilov2019adamw", "shazeer2020glu", "zhang2019rmsnorm"):
        assert key in cited
