"""Chapter 01-bert-gpt: the references against independent oracles (never against themselves)."""

import torch

from course import bert_gpt as ref


def test_scale_matches_torch_mul():
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ref.scale(x, 2.5), torch.mul(x, 2.5))
