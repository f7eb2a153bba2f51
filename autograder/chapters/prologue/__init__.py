"""Checks for the prologue assignment (solutions/00-prologue), named ``prologue.<block>``:
one module per block (contract adapters in ``_common``); importing a block module registers it."""

from autograder.chapters.prologue import (  # noqa: F401  (importing registers the checks)
    matmul_flops,
    softmax,
    time_fn,
)
