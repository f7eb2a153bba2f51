"""``scaling.count_params`` (block 1): parameters of a GPT-2 configuration, as ``numel`` counts them."""

from __future__ import annotations

from autograder.chapters.scaling._common import GPT2_SMALL, _rng, random_config, small_gpt
from autograder.checks.spec import Case, Step, register_pair
from course import scaling as ref


def _variant(*, tied_twice=False, biases=True, norms=True, use_n_inner=True):
    def count(cfg):
        v, p, d, n_layer = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
        f = ref.d_ff(cfg) if use_n_inner else 4 * d
        per_layer = 4 * d * d + 2 * d * f
        if biases:
            per_layer += 3 * d + d + f + d
        if norms:
            per_layer += 4 * d
        non_embedding = n_layer * per_layer + (2 * d if norms else 0)
        untied = not cfg.get("tie_word_embeddings", True)
        embedding = v * d + p * d + (v * d if untied or tied_twice else 0)
        return {"total": non_embedding + embedding, "non_embedding": non_embedding}

    return count


MISTAKES = {
    "the tied output layer counted a second time (it is the token embedding)": _variant(
        tied_twice=True
    ),
    "biases left out (every GPT-2 linear layer has one)": _variant(biases=False),
    "layer norms left out (ln_1, ln_2 per block and ln_f, each with weight and bias)": _variant(
        norms=False
    ),
    "the MLP width taken as 4 n_embd although n_inner is given": _variant(use_n_inner=False),
}


def _cases(gen, device):
    rng = _rng(gen)
    small = small_gpt(n_positions=7)
    fixed = [
        ("a small tied GPT (V=11, P=7, d=4, 2 layers)", small),
        ("GPT-2 small (124M)", GPT2_SMALL),
        ("untied, n_inner=10", small | {"tie_word_embeddings": False, "n_inner": 10}),
        ("no layers (n_layer=0), vocabulary of 1", small | {"n_layer": 0, "vocab_size": 1}),
        (
            "GPT-2 XL shape (48 layers, d=1600), untied",
            GPT2_SMALL
            | {"n_layer": 48, "n_embd": 1600, "n_head": 25, "tie_word_embeddings": False},
        ),
    ]
    for label, cfg in fixed:
        yield Case(label, [Step((cfg,))])
    for _ in range(8):
        cfg = random_config(rng)
        yield Case(f"random config {cfg}", [Step((cfg,))])


register_pair(
    name="scaling.count_params",
    target="count_params",
    reference=ref.count_params,
    cases=_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
