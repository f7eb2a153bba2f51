"""SimCLR and a small MAE on the scikit-learn digits (1,797 8x8 images), on CPU, with the
course's own blocks (course.ssl_learning: nt_xent, patchify, random_masking, mae_loss).

Run: .venv/bin/python benchmarks/ssl_learning_digits.py [--seeds 3] [--epochs 60]

For each seed: a small CNN encoder is trained with SimCLR (two views per image from torchvision's
RandomAffine plus pixel noise, NT-Xent at temperature 0.2) on the 1,200 training images, labels
unused. Its frozen features are then scored by a linear probe (logistic regression fitted on the
training images' labels, accuracy on the 597 held-out images), against the same encoder at its
random initialisation, the raw pixels, and the same architecture trained with the labels
(supervised, then probed the same way). A small MAE (2x2 patches, 75% masked, a 2-layer
Transformer encoder on visible patches, a 1-layer decoder) is trained on the same images; its
reconstructions of held-out images and its own linear probe are saved. Results (mean and spread
over seeds, the training curves, the reconstructions, the run time) go to
book/_static/benchmarks/ssl_learning_digits.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course import ssl_learning as ssl  # noqa: E402


def load(seed_split: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
    y = torch.tensor(d.target)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=597, stratify=d.target, random_state=seed_split)
    return x[tr], y[tr], x[te], y[te]


class Encoder(nn.Module):
    """8x8 -> 128 features: two 3x3 convolutions (the second strided) and a linear layer."""

    def __init__(self, dim: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, dim),
        )

    def forward(self, x):
        return self.net(x)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random view per image: a random affine map per image (rotation up to 20 degrees,
    shift up to 15%, scale 0.8 to 1.15, shear up to 10 degrees: the ranges of torchvision's
    ``RandomAffine(20, (0.15, 0.15), (0.8, 1.15), 10)``, drawn per image and applied to the whole
    batch at once with ``affine_grid``/``grid_sample``), then a random brightness and pixel noise."""
    b = x.shape[0]

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(b, generator=gen)

    angle, shear = torch.deg2rad(u(-20, 20)), torch.deg2rad(u(-10, 10))
    scale, tx, ty = u(0.8, 1.15), u(-0.3, 0.3), u(-0.3, 0.3)  # shifts in [-1, 1] grid units
    cos, sin = torch.cos(angle), torch.sin(angle)
    a = torch.stack([cos, -sin + torch.tan(shear) * cos, tx], 1) / scale[:, None]
    c = torch.stack([sin, cos + torch.tan(shear) * sin, ty], 1) / scale[:, None]
    theta = torch.stack([a, c], 1)  # (B, 2, 3): output pixel -> input location
    theta[:, :, 2] *= scale[:, None]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    views = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    bright = u(0.7, 1.3)[:, None, None, None]
    noise = 0.1 * torch.randn(x.shape, generator=gen)
    return (views * bright + noise).clamp(0, 1.5)


@torch.no_grad()
def features(enc: nn.Module, x: torch.Tensor) -> np.ndarray:
    enc.eval()
    out = enc(x).numpy()
    enc.train()
    return out


def probe(f_tr, y_tr, f_te, y_te, per_class: int = 10, draws: int = 5) -> float:
    """Linear probe with few labels: a multinomial logistic regression on standardised frozen
    features, fitted on ``per_class`` labelled training images of each digit (or all of them
    with ``per_class=0``), accuracy on the held-out images, averaged over ``draws`` label draws."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    y_tr = np.asarray(y_tr)
    accs = []
    for d in range(draws if per_class else 1):
        rng = np.random.default_rng(d)
        if per_class:
            idx = np.concatenate(
                [rng.choice(np.flatnonzero(y_tr == k), per_class, replace=False) for k in range(10)]
            )
        else:
            idx = np.arange(len(y_tr))
        sc = StandardScaler().fit(f_tr[idx])
        clf = LogisticRegression(max_iter=1000, C=0.1).fit(sc.transform(f_tr[idx]), y_tr[idx])
        accs.append(float(clf.score(sc.transform(f_te), np.asarray(y_te))))
    return statistics.mean(accs)


def train_simclr(x_tr, y_tr, x_te, y_te, seed: int, epochs: int, batch: int = 256, tau=0.2):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    enc = Encoder()
    random_acc = probe(features(enc, x_tr), y_tr, features(enc, x_te), y_te)
    head = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 64))
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=2e-3, weight_decay=1e-5)
    curve = []
    for epoch in range(epochs):
        perm = torch.randperm(len(x_tr), generator=gen)
        losses = []
        for i in range(0, len(perm) - batch + 1, batch):
            xb = x_tr[perm[i : i + batch]]
            z1, z2 = head(enc(augment(xb, gen))), head(enc(augment(xb, gen)))
            loss = ssl.nt_xent(z1, z2, tau)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        point = {"epoch": epoch + 1, "loss": statistics.mean(losses)}
        if (epoch + 1) % 10 == 0 or epoch in (0, epochs - 1):
            point["probe"] = probe(features(enc, x_tr), y_tr, features(enc, x_te), y_te, draws=2)
        curve.append(point)
    final = probe(features(enc, x_tr), y_tr, features(enc, x_te), y_te)
    return random_acc, final, curve


def train_supervised(x_tr, y_tr, x_te, y_te, seed: int, epochs: int, batch: int = 256):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    enc, cls = Encoder(), nn.Linear(128, 10)
    opt = torch.optim.Adam([*enc.parameters(), *cls.parameters()], lr=2e-3, weight_decay=1e-5)
    for _ in range(epochs):
        perm = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(perm) - batch + 1, batch):
            j = perm[i : i + batch]
            loss = F.cross_entropy(cls(enc(augment(x_tr[j], gen))), y_tr[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return probe(features(enc, x_tr), y_tr, features(enc, x_te), y_te)


class TinyMAE(nn.Module):
    """MAE on 8x8 digits: 2x2 patches (N = 16, 4 values each), encoder on the visible patches
    only, mask tokens added after the encoder, a light decoder predicting every patch's pixels."""

    def __init__(self, patch=2, dim=64, dec_dim=32, n=16):
        super().__init__()
        self.patch = patch
        self.embed = nn.Linear(patch * patch, dim)
        self.pos = nn.Parameter(0.02 * torch.randn(1, n, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, 0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.to_dec = nn.Linear(dim, dec_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.dec_pos = nn.Parameter(0.02 * torch.randn(1, n, dec_dim))
        dec_layer = nn.TransformerEncoderLayer(dec_dim, 2, 2 * dec_dim, 0.0, batch_first=True)
        self.decoder = nn.TransformerEncoder(dec_layer, 1)
        self.head = nn.Linear(dec_dim, patch * patch)

    def encode(self, x, mask_ratio, noise):
        tokens = self.embed(ssl.patchify(x, self.patch)) + self.pos
        kept, mask, restore = ssl.random_masking(tokens, mask_ratio, noise)
        return self.encoder(kept), mask, restore

    def forward(self, x, mask_ratio=0.75, noise=None):
        b = x.shape[0]
        if noise is None:
            noise = torch.rand(b, self.pos.shape[1])
        latent, mask, restore = self.encode(x, mask_ratio, noise)
        y = self.to_dec(latent)
        n, k = restore.shape[1], y.shape[1]
        y = torch.cat([y, self.mask_token.expand(b, n - k, -1)], dim=1)
        y = torch.gather(y, 1, restore[..., None].expand(-1, -1, y.shape[-1]))  # unshuffle
        pred = self.head(self.decoder(y + self.dec_pos))
        return pred, mask

    @torch.no_grad()
    def features(self, x):
        """All 16 encoded patches, in patch order (noise = arange keeps the order), flattened."""
        self.eval()
        order = torch.arange(self.pos.shape[1], dtype=torch.float32).expand(x.shape[0], -1)
        latent, _, _ = self.encode(x, 0.0, order)
        self.train()
        return latent.flatten(1).numpy()


def train_mae(x_tr, y_tr, x_te, y_te, seed: int, epochs: int, batch: int = 128):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = TinyMAE()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    curve = []
    for epoch in range(epochs):
        perm = torch.randperm(len(x_tr), generator=gen)
        losses = []
        for i in range(0, len(perm) - batch + 1, batch):
            xb = x_tr[perm[i : i + batch]]
            noise = torch.rand(len(xb), 16, generator=gen)
            pred, mask = model(xb, 0.75, noise)
            loss = ssl.mae_loss(pred, ssl.patchify(xb, 2), mask)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        curve.append({"epoch": epoch + 1, "loss": statistics.mean(losses)})
    acc = probe(model.features(x_tr), y_tr, model.features(x_te), y_te)
    # reconstructions of 6 held-out images, 75% masked
    model.eval()
    with torch.no_grad():
        xs = x_te[:6]
        noise = torch.rand(6, 16, generator=torch.Generator().manual_seed(123))
        pred, mask = model(xs, 0.75, noise)
        target = ssl.patchify(xs, 2)
        masked = target * (1 - mask[..., None])
        pasted = torch.where(mask[..., None].bool(), pred, target)
        test_loss = float(ssl.mae_loss(pred, target, mask))
    recon = {
        "original": xs[:, 0].tolist(),
        "masked": ssl.unpatchify(masked, 2, 8, 8)[:, 0].tolist(),
        "mask": mask.tolist(),
        "reconstruction": ssl.unpatchify(pasted, 2, 8, 8)[:, 0].clamp(0, 1).tolist(),
    }
    return acc, curve, recon, test_loss


def summary(values):
    return {
        "mean": statistics.mean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "values": values,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--mae-epochs", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    x_tr, y_tr, x_te, y_te = load()
    pixels = probe(x_tr.flatten(1).numpy(), y_tr, x_te.flatten(1).numpy(), y_te)
    rand, simclr, sup, mae, curves, mae_curves = [], [], [], [], [], []
    recon, mae_test = None, None
    for seed in range(args.seeds):
        r, s, curve = train_simclr(x_tr, y_tr, x_te, y_te, seed, args.epochs)
        rand.append(r)
        simclr.append(s)
        curves.append(curve)
        sup.append(train_supervised(x_tr, y_tr, x_te, y_te, seed, args.epochs))
        m, mcurve, rec, tl = train_mae(x_tr, y_tr, x_te, y_te, seed, args.mae_epochs)
        mae.append(m)
        mae_curves.append(mcurve)
        if recon is None:
            recon, mae_test = rec, tl
        print(f"seed {seed}: random {r:.3f} simclr {s:.3f} supervised {sup[-1]:.3f} mae {m:.3f}")
    seconds = time.perf_counter() - start
    rows = [
        ["raw pixels (64 values)", pixels, 0.0],
        ["random encoder (untrained CNN)", summary(rand)["mean"], summary(rand)["std"]],
        ["SimCLR encoder (no labels)", summary(simclr)["mean"], summary(simclr)["std"]],
        ["MAE encoder (no labels)", summary(mae)["mean"], summary(mae)["std"]],
        ["supervised encoder (labels)", summary(sup)["mean"], summary(sup)["std"]],
    ]
    write(
        "ssl_learning_digits.json",
        ["encoder", "linear-probe accuracy (mean)", "std over seeds"],
        rows,
        seeds=args.seeds,
        epochs=args.epochs,
        mae_epochs=args.mae_epochs,
        train_images=len(x_tr),
        test_images=len(x_te),
        raw_pixels=pixels,
        random=summary(rand),
        simclr=summary(simclr),
        mae=summary(mae),
        supervised=summary(sup),
        simclr_curves=curves,
        mae_curves=mae_curves,
        mae_reconstructions=recon,
        mae_test_loss=mae_test,
        seconds=seconds,
        command=f"python benchmarks/ssl_learning_digits.py --seeds {args.seeds} "
        f"--epochs {args.epochs} --mae-epochs {args.mae_epochs}",
    )


if __name__ == "__main__":
    main()
