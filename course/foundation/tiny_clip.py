"""A tiny CLIP trained on scikit-learn's 8x8 digits with synthetic captions, on CPU in seconds.

Images: the 1,797 digits (64 pixels, scaled to [0, 1]); captions: a template filled with the
digit's name ("a photo of the digit seven"). Image encoder: a 2-layer MLP; text encoder: the mean
of word embeddings followed by a linear map (word order is not needed for these captions). The
loss is :func:`course.foundation.clip.clip_loss`; zero-shot classification uses
:func:`course.foundation.clip.zero_shot_logits` with no label ever used for training a classifier.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from course.foundation.clip import clip_loss, zero_shot_logits

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TRAIN_TEMPLATES = [
    "a photo of the digit {}",
    "a handwritten {}",
    "the number {}",
    "a blurry picture of a {}",
    "a small black and white {}",
    "someone wrote {}",
]
ZERO_SHOT_TEMPLATES = TRAIN_TEMPLATES  # ensembled at test time; the first one alone as baseline


def vocabulary() -> dict[str, int]:
    words = sorted({w for t in TRAIN_TEMPLATES for w in t.format("").split()} | set(NAMES))
    return {w: i for i, w in enumerate(words)}


class TinyCLIP(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32, hidden: int = 128):
        super().__init__()
        self.image = nn.Sequential(nn.Linear(64, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.words = nn.EmbeddingBag(vocab_size, hidden, mode="mean")
        self.text = nn.Sequential(nn.GELU(), nn.Linear(hidden, dim))
        self.log_scale = nn.Parameter(torch.tensor(2.6593))  # ln(1 / 0.07), CLIP's initial value

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        return self.image(x)

    def encode_text(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.text(self.words(ids, offsets))


def tokenize(captions: list[str], vocab: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat word ids and the offset of each caption (EmbeddingBag's input)."""
    ids, offsets = [], []
    for c in captions:
        offsets.append(len(ids))
        ids += [vocab[w] for w in c.split()]
    return torch.tensor(ids), torch.tensor(offsets)


def load_digits_split(seed: int = 0, test_fraction: float = 0.3):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32) / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(x) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


@dataclass
class TinyClipResult:
    model: TinyCLIP
    losses: list[float]
    seconds: float
    accuracy_single: float
    accuracy_ensemble: float
    final_scale: float


def class_prompt_features(model: TinyCLIP, vocab, templates: list[str]) -> torch.Tensor:
    """(10, P, D) text embeddings of every template filled with every digit name."""
    prompts = [t.format(n) for n in NAMES for t in templates]
    with torch.no_grad():
        return model.encode_text(*tokenize(prompts, vocab)).reshape(10, len(templates), -1)


def train_tiny_clip(
    epochs: int = 40, batch: int = 128, dim: int = 32, lr: float = 3e-3, seed: int = 0
) -> TinyClipResult:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and fair on a shared machine
    try:
        return _train(epochs, batch, dim, lr, seed)
    finally:
        torch.set_num_threads(threads)


def _train(epochs: int, batch: int, dim: int, lr: float, seed: int) -> TinyClipResult:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    vocab = vocabulary()
    xtr, ytr, xte, yte = load_digits_split(seed)
    model = TinyCLIP(len(vocab), dim)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(perm) - batch + 1, batch):
            idx = perm[i : i + batch]
            pick = torch.randint(0, len(TRAIN_TEMPLATES), (len(idx),), generator=gen)
            caps = [TRAIN_TEMPLATES[int(p)].format(NAMES[int(y)]) for p, y in zip(pick, ytr[idx])]
            loss = clip_loss(
                model.encode_image(xtr[idx]),
                model.encode_text(*tokenize(caps, vocab)),
                model.log_scale,
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    seconds = time.perf_counter() - start
    with torch.no_grad():
        img = model.encode_image(xte)
        single = zero_shot_logits(img, class_prompt_features(model, vocab, TRAIN_TEMPLATES[:1]))
        ens = zero_shot_logits(img, class_prompt_features(model, vocab, ZERO_SHOT_TEMPLATES))
    return TinyClipResult(
        model,
        losses,
        seconds,
        float((single.argmax(1) == yte).float().mean()),
        float((ens.argmax(1) == yte).float().mean()),
        model.log_scale.detach().clamp(0, 4.6052).exp().item(),
    )
