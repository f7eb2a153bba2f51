"""``llama.kv_cache``: the KV cache: prefill then one-token steps equal full recomputation.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

from autograder.chapters.llama._common import KVCache, _randn, _ri
from autograder.checks.spec import Case, Step, register_pair


class _CacheDropsFirst(KVCache):
    def update(self, layer, k, v):
        k_all, v_all = super().update(layer, k, v)
        if k_all.shape[2] > k.shape[2]:
            return k_all[:, :, 1:], v_all[:, :, 1:]
        return k_all, v_all


def _kv_cache_cases(gen, device, visible=False):
    n = 1 if visible else 3
    for i in range(n):
        b, g, d = _ri(gen, 1, 2), [2, 1, 3][i], [4, 8, 2][i]
        chunks = [[3, 1, 1], [1, 1, 1, 1], [5, 2, 1]][i]
        steps = []
        for layer in range(2):
            for c in chunks:
                steps.append(
                    Step((layer, _randn(gen, b, g, c, d), _randn(gen, b, g, c, d)), method="update")
                )
        steps.append(Step((), method="length"))
        yield Case(
            f"2 layers, chunks of {chunks} tokens (prefill then decode)",
            steps,
            init={"num_layers": 2},
            device=device,
        )


register_pair(
    name="llama.kv_cache",
    target="KVCache",
    reference=KVCache,
    cases=_kv_cache_cases,
    misconceptions={"the cache drops its first token": _CacheDropsFirst},
)
