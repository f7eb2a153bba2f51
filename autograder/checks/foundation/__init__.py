"""Checks for chapter 06-clip-sam-whisper (solutions/06-clip-sam-whisper), named ``foundation.<block>``: one module per block."""

from autograder.checks.foundation import scale  # noqa: F401  (importing a block module registers it)
