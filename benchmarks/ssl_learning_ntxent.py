"""NT-Xent at growing batch sizes, and MoCo's queue against SimCLR's in-batch negatives.

Run: .venv/bin/python benchmarks/ssl_learning_ntxent.py [--rounds 9]  (one thread)

1. The loss alone, forward + backward, for N = 64 ... 2048 images (2N views, d = 128):
   the course's ``nt_xent`` (log_softmax of the masked 2N x 2N similarity) against the same loss
   written as classification with ``F.cross_entropy`` (SimCLR's official formulation), median
   time of ``--rounds`` rounds after one warm-up, and the bytes autograd keeps for the backward
   pass (every tensor saved for backward, counted once, through
   ``torch.autograd.graph.saved_tensors_hooks``).
2. A training step's memory at the same number of negatives K: SimCLR needs a batch of
   N = (K + 2) / 2 images (2N views through the encoder, with gradients); MoCo keeps a batch of
   256 queries (gradients) and 256 keys (no gradients) plus a queue of K keys. Saved-for-backward
   bytes of one step with the digits CNN encoder (8x8 inputs) and projection head.
GPU figures were not measured (CPU only here).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course import ssl_learning as ssl  # noqa: E402


def nt_xent_ce(z1, z2, temperature):
    """SimCLR's official shape: logits with the diagonal masked, labels i + N mod 2N."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(logits, labels)


def saved_bytes(fn) -> int:
    """Bytes of the distinct tensors autograd saves for backward while ``fn`` runs."""
    seen: dict[int, int] = {}

    def pack(t):
        key = t.untyped_storage().data_ptr()
        seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    out.backward()
    return sum(seen.values())


def timed(fn, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loss_rows(rounds: int) -> list[list]:
    rows = []
    d, tau = 128, 0.1
    for n in (64, 128, 256, 512, 1024, 2048):
        gen = torch.Generator().manual_seed(n)
        z1 = torch.randn(n, d, generator=gen, requires_grad=True)
        z2 = torch.randn(n, d, generator=gen, requires_grad=True)

        def course(z1=z1, z2=z2):
            return ssl.nt_xent(z1, z2, tau)

        def ce(z1=z1, z2=z2):
            return nt_xent_ce(z1, z2, tau)

        assert torch.allclose(course(), ce(), atol=1e-5)
        t_course = timed(lambda: course().backward(), rounds)
        t_ce = timed(lambda: ce().backward(), rounds)
        rows.append(
            [
                n,
                2 * n - 2,
                t_course * 1e3,
                t_ce * 1e3,
                t_course / t_ce,
                saved_bytes(course) / 2**20,
                saved_bytes(ce) / 2**20,
                (2 * n) ** 2 * 4 / 2**20,
            ]
        )
        print(rows[-1])
    return rows


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(1024, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
        )

    def forward(self, x):
        return self.net(x)


def step_rows() -> list[list]:
    torch.manual_seed(0)
    enc, key_enc = Encoder(), Encoder()
    key_enc.requires_grad_(False)
    rows = []
    for k in (510, 2046, 8190, 16382):
        n = (k + 2) // 2
        x = torch.rand(2 * n, 1, 8, 8)

        def simclr(x=x, n=n):
            z = enc(x)
            return ssl.nt_xent(z[:n], z[n:], 0.2)

        queue = ssl.MoCoQueue(64, k)
        xq, xk = torch.rand(256, 1, 8, 8), torch.rand(256, 1, 8, 8)

        def moco(xq=xq, xk=xk, queue=queue):
            q = F.normalize(enc(xq), dim=1)
            with torch.no_grad():
                kk = F.normalize(key_enc(xk), dim=1)
            logits = queue(q, kk, 0.2)
            return F.cross_entropy(logits, torch.zeros(256, dtype=torch.long))

        rows.append([k, n, saved_bytes(simclr) / 2**20, saved_bytes(moco) / 2**20])
        print(rows[-1])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(1)  # one thread: stable medians on a shared machine
    start = time.perf_counter()
    loss = loss_rows(args.rounds)
    steps = step_rows()
    write(
        "ssl_learning_ntxent.json",
        [
            "N images",
            "negatives per anchor",
            "course nt_xent ms",
            "F.cross_entropy ms",
            "ratio",
            "course saved MiB",
            "cross_entropy saved MiB",
            "one (2N)^2 float32 matrix MiB",
        ],
        loss,
        step_columns=[
            "negatives K",
            "SimCLR batch N",
            "SimCLR step saved MiB",
            "MoCo step saved MiB (batch 256, queue K)",
        ],
        step_rows=steps,
        rounds=args.rounds,
        seconds=time.perf_counter() - start,
        note="GPU figures were not measured.",
    )


if __name__ == "__main__":
    main()
