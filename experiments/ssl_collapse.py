"""Collapse, shown: SimSiam with and without the stop-gradient, BYOL with and without the predictor,
on the scikit-learn digits with the encoder and augmentations of benchmarks/ssl_learning_digits.py.

Four runs, identical except for the one component each ablation removes:

* ``SimSiam``: encoder + projector (BN on its hidden layer only, SimSiam's Table 3b variant) shared
  by both views, a bottleneck predictor on one side, the course's ``simsiam_loss`` (stop-gradient on the targets);
* ``SimSiam, no stop-gradient``: the same network and loss with the gradient flowing into the
  targets too;
* ``BYOL``: the same online network, a target network (encoder + projector) that is the EMA of the
  online one (m = 0.99), the targets from the target network;
* ``BYOL, no predictor``: the same, with the predictor replaced by the identity.

Every ``EVAL_EVERY`` steps, on the 597 held-out digits (eval mode): the training loss, the
per-channel standard deviation of the l2-normalised projector output z / ||z|| averaged over the
channels (SimSiam's collapse diagnostic, Chen & He 2021, Fig. 2: 0 when collapsed, about
1/sqrt(d) when the outputs spread over the sphere), and the accuracy of a cosine kNN classifier
(k = 10) on the encoder's features with 10 labelled training images per digit.

Run: .venv/bin/python experiments/ssl_collapse.py   (about 2 minutes on one CPU thread)
Writes book/_static/ssl_collapse.json, which book/05-ssl/no-negatives.md reads. Seeds are fixed.
"""

from __future__ import annotations

import copy
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from ssl_learning_digits import Encoder, augment, load  # noqa: E402

from course import ssl_learning as ssl  # noqa: E402

OUT = ROOT / "book" / "_static" / "ssl_collapse.json"
STEPS = 600
EVAL_EVERY = 25
BATCH = 256
DIM = 64  # projector output d
LR = 0.05
MOMENTUM_EMA = 0.99
SEED = 0
RUNS = ["SimSiam", "SimSiam, no stop-gradient", "BYOL", "BYOL, no predictor"]


def projector() -> nn.Module:
    return nn.Sequential(
        nn.Linear(128, 128),
        nn.BatchNorm1d(128),
        nn.ReLU(),
        nn.Linear(128, DIM),
    )


def predictor() -> nn.Module:
    """A bottleneck, as SimSiam's (2048 -> 512 -> 2048), here 64 -> 32 -> 64."""
    return nn.Sequential(nn.Linear(DIM, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, DIM))


def simsiam_no_stop_gradient(p1, p2, z1, z2):
    """The same symmetrised negative cosine, with gradients into z1 and z2 as well."""
    return (
        -(F.cosine_similarity(p1, z2, dim=-1).mean() + F.cosine_similarity(p2, z1, dim=-1).mean())
        / 2
    )


@torch.no_grad()
def evaluate(enc, proj, x_tr, y_tr, x_te, y_te, per_class=10, k=10):
    enc.eval()
    proj.eval()
    h_te = enc(x_te)
    z = F.normalize(proj(h_te), dim=1)
    std = z.std(dim=0).mean().item()
    h_tr = F.normalize(enc(x_tr), dim=1)
    h_te = F.normalize(h_te, dim=1)
    enc.train()
    proj.train()
    accs = []
    for draw in range(3):
        rng = np.random.default_rng(draw)
        idx = np.concatenate(
            [
                rng.choice(np.flatnonzero(y_tr.numpy() == c), per_class, replace=False)
                for c in range(10)
            ]
        )
        sim = h_te @ h_tr[idx].T
        top = sim.topk(k, dim=1).indices
        votes = F.one_hot(y_tr[idx][top], 10).sum(1)
        accs.append((votes.argmax(1) == y_te).float().mean().item())
    return std, float(np.mean(accs))


def run(name: str, x_tr, y_tr, x_te, y_te) -> dict:
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    enc, proj, pred = Encoder(), projector(), predictor()
    if name == "BYOL, no predictor":
        pred = nn.Identity()
    byol = name.startswith("BYOL")
    if byol:
        target = copy.deepcopy(nn.ModuleList([enc, proj]))
        for p in target.parameters():
            p.requires_grad_(False)
    params = [*enc.parameters(), *proj.parameters(), *pred.parameters()]
    opt = torch.optim.SGD(params, lr=LR, momentum=0.9, weight_decay=1e-4)
    curve = []
    _, acc = evaluate(enc, proj, x_tr, y_tr, x_te, y_te)
    # at step 0 BatchNorm's running statistics are still their defaults (mean 0, variance 1), so
    # the projector's eval-mode output says nothing yet: only the encoder's kNN is recorded
    curve.append({"step": 0, "loss": None, "std": None, "knn": acc})
    losses, step = [], 0
    while step < STEPS:
        perm = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(perm) - BATCH + 1, BATCH):
            xb = x_tr[perm[i : i + BATCH]]
            v1, v2 = augment(xb, gen), augment(xb, gen)
            z1, z2 = proj(enc(v1)), proj(enc(v2))
            p1, p2 = pred(z1), pred(z2)
            if byol:
                with torch.no_grad():
                    t1, t2 = target[1](target[0](v1)), target[1](target[0](v2))
                loss = ssl.simsiam_loss(p1, p2, t1, t2)
            elif name == "SimSiam":
                loss = ssl.simsiam_loss(p1, p2, z1, z2)
            else:
                loss = simsiam_no_stop_gradient(p1, p2, z1, z2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if byol:
                online = nn.ModuleList([enc, proj])
                ssl.momentum_update(
                    list(target.parameters()), list(online.parameters()), MOMENTUM_EMA
                )
                for tb, ob in zip(target.buffers(), online.buffers()):
                    tb.copy_(ob)  # BatchNorm's running statistics
            losses.append(loss.item())
            step += 1
            if step % EVAL_EVERY == 0:
                std, acc = evaluate(enc, proj, x_tr, y_tr, x_te, y_te)
                curve.append({"step": step, "loss": float(np.mean(losses)), "std": std, "knn": acc})
                losses = []
            if step == STEPS:
                break
    return {"name": name, "curve": curve}


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    x_tr, y_tr, x_te, y_te = load()
    runs = []
    for name in RUNS:
        t0 = time.perf_counter()
        r = run(name, x_tr, y_tr, x_te, y_te)
        r["seconds"] = time.perf_counter() - t0
        last = r["curve"][-1]
        print(
            f"{name:28s} loss {last['loss']:+.3f} std {last['std']:.4f} kNN {last['knn']:.3f} ({r['seconds']:.0f} s)"
        )
        runs.append(r)
    OUT.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, 1 thread",
                "steps": STEPS,
                "batch": BATCH,
                "dim": DIM,
                "lr": LR,
                "ema": MOMENTUM_EMA,
                "seed": SEED,
                "train_images": len(x_tr),
                "test_images": len(x_te),
                "runs": runs,
                "seconds": time.perf_counter() - start,
                "command": "python experiments/ssl_collapse.py",
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
