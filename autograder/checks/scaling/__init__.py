"""Checks for chapter 02-scaling-laws (solutions/02-scaling-laws), named ``scaling.<block>``: one module per block."""

from autograder.checks.scaling import scale  # noqa: F401  (importing a block module registers it)
