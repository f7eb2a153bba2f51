"""Checks for chapter 02-scaling-laws (solutions/02-scaling-laws), named ``scaling.<block>``: one
module per block; importing a block module registers its checks.

The seven blocks are independent functions (no block calls another), so one mistake costs one
block. Values cross the sandbox as JSON: configurations and laws are dicts of numbers, data points
for the Chinchilla fit are lists of floats (at most 256), the two timing blocks receive two
sleeping callables (``values.Sleeper``) that model an asynchronous device: ``step()`` (or
``matmul()``) returns at once and ``sync()`` sleeps until the queued work would be done.
"""

from autograder.chapters.scaling import (  # noqa: F401  (importing registers the checks)
    achieved_flops,
    chinchilla_fit,
    flops,
    mfu,
    optimal,
    params,
    power_law,
)
