"""CLIP (Radford et al., 2021): the symmetric contrastive loss and zero-shot classification."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

#: CLIP clips the learned logit scale exp(t) to at most 100 (and open_clip to at least 1).
MAX_LOG_SCALE = math.log(100.0)


def clip_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, log_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE over the N x N image-text similarity matrix.

    Args:
        image_features: (N, D) image embeddings (not normalised), floating dtype.
        text_features: (N, D) text embeddings of the same N pairs (row i goes with row i).
        log_scale: () the learnable log of the logit scale, t; the scale is
            exp(clamp(t, 0, ln 100)), i.e. a temperature between 1/100 and 1.
    Returns:
        () the mean of the image->text and text->image cross-entropies, in the inputs' dtype.
    """
    img = F.normalize(image_features, dim=-1)
    txt = F.normalize(text_features, dim=-1)
    scale = log_scale.clamp(0.0, MAX_LOG_SCALE).exp()
    logits = scale * img @ txt.T  # (N, N): row i = image i against every text
    target = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def class_embeddings(prompt_features: torch.Tensor) -> torch.Tensor:
    """(C, P, D) embeddings of P prompts per class -> (C, D) unit class embeddings.

    Each prompt embedding is normalised, the P of a class are averaged, and the mean is
    normalised again (CLIP's prompt ensembling in embedding space).
    """
    return F.normalize(F.normalize(prompt_features, dim=-1).mean(dim=1), dim=-1)


def zero_shot_logits(
    image_features: torch.Tensor, prompt_features: torch.Tensor, logit_scale: float = 100.0
) -> torch.Tensor:
    """Zero-shot classifier logits from prompt embeddings (prompt ensembling).

    Args:
        image_features: (B, D) image embeddings (not normalised).
        prompt_features: (C, P, D) text embeddings of P prompt templates filled with each of C
            class names (not normalised); P = 1 is a single template.
        logit_scale: the (already exponentiated) scale, a Python float.
    Returns:
        (B, C) logits, logit_scale * cos(image, class embedding); softmax gives the class
        probabilities.
    """
    w = class_embeddings(prompt_features)
    return logit_scale * F.normalize(image_features, dim=-1) @ w.T


def prompts(class_names: list[str], templates: list[str]) -> list[str]:
    """Class-major prompt list: for each class, every template filled with its name."""
    return [t.format(c) for c in class_names for t in templates]
