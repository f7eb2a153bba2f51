"""Checks for chapter 05-ssl (solutions/05-ssl), named ``ssl_learning.<block>``: one module per block."""

from autograder.checks.ssl_learning import scale  # noqa: F401  (importing a block module registers it)
