"""Checks for chapter {chapter} (solutions/{chapter}), named ``{slug}.<block>``: one module per block."""

from autograder.chapters.{slug} import scale  # noqa: F401  (importing a block module registers it)
