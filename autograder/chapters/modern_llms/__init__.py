"""Checks for chapter 07-modern-llms (solutions/07-modern-llms), named ``modern_llms.<block>``:
one module per block or small group (contract adapters in ``_common``); importing a block module
registers it."""

from autograder.chapters.modern_llms import (  # noqa: F401  (importing registers the checks)
    load_balancing,
    mla,
    moe,
    nope,
    post_norm,
    qk_norm,
    rolling_cache,
    sliding_window,
)
