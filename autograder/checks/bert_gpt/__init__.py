"""Checks for chapter 01-bert-gpt (solutions/01-bert-gpt), named ``bert_gpt.<block>``: one module per block."""

from autograder.checks.bert_gpt import scale  # noqa: F401  (importing a block module registers it)
