"""Segment Anything (Kirillov et al., 2023): prompt encoding, the two-way attention block and mask
selection. Parameter names follow Hugging Face's ``SamTwoWayAttentionBlock`` so that weights copy.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def positional_encoding(
    coords: torch.Tensor, image_size: tuple[int, int], gaussian: torch.Tensor
) -> torch.Tensor:
    """Random-Fourier features of pixel coordinates.

    Args:
        coords: (..., 2) pixel coordinates (x, y), already shifted to pixel centres.
        image_size: (H, W); x is divided by W and y by H, then mapped to [-1, 1].
        gaussian: (2, F) a fixed random matrix (SAM: N(0, 1) entries).
    Returns:
        (..., 2F): [sin(2 pi c G), cos(2 pi c G)] with c the normalised (x, y).
    """
    h, w = image_size
    c = coords / torch.tensor([w, h], dtype=coords.dtype, device=coords.device)
    c = (2 * c - 1).to(gaussian.dtype) @ gaussian
    c = 2 * math.pi * c
    return torch.cat([torch.sin(c), torch.cos(c)], dim=-1)


def embed_prompts(
    points: torch.Tensor,
    labels: torch.Tensor,
    boxes: torch.Tensor | None,
    image_size: tuple[int, int],
    gaussian: torch.Tensor,
    point_embed: torch.Tensor,
    not_a_point: torch.Tensor,
) -> torch.Tensor:
    """SAM's sparse prompt embeddings for clicks and (optionally) one box per prompt.

    Args:
        points: (B, N, 2) click coordinates in pixels, (x, y); N may be 0.
        labels: (B, N) long: 1 foreground, 0 background, -1 padding (not a point).
        boxes: (B, 4) boxes (x0, y0, x1, y1) in pixels, or None.
        image_size: (H, W) of the (resized) input image.
        gaussian: (2, C // 2) random-Fourier matrix.
        point_embed: (4, C) learned embeddings: 0 background, 1 foreground, 2 top-left corner,
            3 bottom-right corner.
        not_a_point: (C,) learned embedding of a padding point.
    Returns:
        (B, N + 1, C) without boxes (a padding point is appended), (B, N + 2, C) with boxes
        (the two corners follow the points).
    """
    b = points.shape[0]
    pts = points + 0.5  # the centre of the pixel
    if boxes is None:
        pts = torch.cat([pts, pts.new_zeros(b, 1, 2)], dim=1)
        labels = torch.cat([labels, labels.new_full((b, 1), -1)], dim=1)
    pe = positional_encoding(pts, image_size, gaussian)
    lab = labels[..., None]
    pe = torch.where(lab == -1, not_a_point.to(pe.dtype).expand_as(pe), pe)
    pe = pe + (lab == 0) * point_embed[0] + (lab == 1) * point_embed[1]
    if boxes is None:
        return pe
    corners = positional_encoding((boxes + 0.5).reshape(b, 2, 2), image_size, gaussian)
    corners = corners + point_embed[2:4]
    return torch.cat([pe, corners], dim=1)


def select_masks(
    masks: torch.Tensor, iou_pred: torch.Tensor, multimask_output: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pick one mask per prompt from the decoder's four outputs.

    Args:
        masks: (B, 4, H, W) mask logits; output 0 is the single-mask token, 1..3 the multimask
            tokens (whole, part, subpart).
        iou_pred: (B, 4) predicted IoU of each mask.
        multimask_output: True: choose among outputs 1..3 the one with the highest predicted IoU
            (first on ties); False: output 0.
    Returns:
        (mask (B, H, W) bool = logits > 0, score (B,) its predicted IoU, index (B,) long in 0..3).
    """
    b = masks.shape[0]
    if multimask_output:
        index = iou_pred[:, 1:].argmax(dim=1) + 1
    else:
        index = torch.zeros(b, dtype=torch.long, device=masks.device)
    rows = torch.arange(b, device=masks.device)
    return masks[rows, index] > 0.0, iou_pred[rows, index], index


class SamAttention(nn.Module):
    """Multi-head attention whose projections may shrink the width by ``downsample_rate``.

    q, k, v: Linear(C, C // r); heads split C // r; out_proj: Linear(C // r, C).
    forward(query (B, Nq, C), key (B, Nk, C), value (B, Nk, C)) -> (B, Nq, C).
    """

    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1):
        super().__init__()
        self.num_heads = num_heads
        self.internal_dim = embedding_dim // downsample_rate
        assert self.internal_dim % num_heads == 0, "num_heads must divide embedding_dim // rate"
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.v_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        q, k, v = (
            self._heads(self.q_proj(query)),
            self._heads(self.k_proj(key)),
            self._heads(self.v_proj(value)),
        )
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        out = F.softmax(scores, dim=-1) @ v  # (B, h, Nq, d)
        b, h, n, d = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * d))


class SamMLP(nn.Module):
    """lin2(relu(lin1(x))): the mask decoder's MLP (ReLU, as in SAM's TwoWayTransformer)."""

    def __init__(self, embedding_dim: int, mlp_dim: int):
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(F.relu(self.lin1(x)))


class TwoWayAttentionBlock(nn.Module):
    """One block of SAM's two-way transformer (post-norm, four sub-layers).

    1. self-attention of the tokens (with their positional encoding added to q and k, except in
       the first block where ``skip_first_layer_pe`` replaces the tokens by the attention output);
    2. tokens -> image cross-attention (q = tokens + pe, k = image + image pe, v = image);
    3. MLP on the tokens;
    4. image -> tokens cross-attention (q = image + image pe, k = tokens + pe, v = tokens),
       updating the image embedding.
    Each sub-layer is followed by LayerNorm (layer_norm1..4), after a residual add.

    forward(queries (B, Nq, C), keys (B, Nk, C), query_pe (B, Nq, C), key_pe (B, Nk, C))
    -> (queries (B, Nq, C), keys (B, Nk, C)).
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        attention_downsample_rate: int = 2,
        skip_first_layer_pe: bool = False,
    ):
        super().__init__()
        c, r = embedding_dim, attention_downsample_rate
        self.self_attn = SamAttention(c, num_heads, 1)
        self.layer_norm1 = nn.LayerNorm(c, eps=1e-6)
        self.cross_attn_token_to_image = SamAttention(c, num_heads, r)
        self.layer_norm2 = nn.LayerNorm(c, eps=1e-6)
        self.mlp = SamMLP(c, mlp_dim)
        self.layer_norm3 = nn.LayerNorm(c, eps=1e-6)
        self.layer_norm4 = nn.LayerNorm(c, eps=1e-6)
        self.cross_attn_image_to_token = SamAttention(c, num_heads, r)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        query_pe: torch.Tensor,
        key_pe: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.layer_norm1(queries)

        q, k = queries + query_pe, keys + key_pe
        queries = self.layer_norm2(queries + self.cross_attn_token_to_image(q, k, keys))

        queries = self.layer_norm3(queries + self.mlp(queries))

        q, k = queries + query_pe, keys + key_pe
        keys = self.layer_norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys
