"""Checks for chapter 05-ssl (solutions/05-ssl), named ``ssl_learning.<block>``: one module per
block (or small group); importing a block module registers its checks."""

from autograder.chapters.ssl_learning import (  # noqa: F401  (importing registers the checks)
    dino,
    linear_probe,
    mae_loss,
    masking,
    moco,
    no_negatives,
    nt_xent,
    patchify,
    unmasking,
)
