"""Checks for chapter 07-modern-llms (solutions/07-modern-llms), named ``modern_llms.<block>``: one module per block."""

from autograder.checks.modern_llms import scale  # noqa: F401  (importing a block module registers it)
