"""``ssl_learning.moco_queue`` and ``ssl_learning.momentum_encoder``: MoCo's FIFO queue of keys
with the logits against it, and the momentum (EMA) update of the key encoder.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.chapters.ssl_learning._common import BF16, _randn, _ri, stop_gradient_compare
from autograder.checks.spec import Case, Step, register_pair
from course import ssl_learning as ref


# --- known mistakes: the queue ----------------------------------------------------------------
class _PointerStuck(ref.MoCoQueue):
    @torch.no_grad()
    def enqueue(self, keys):
        p = int(self.ptr)
        super().enqueue(keys)
        self.ptr[0] = p


class _PositiveLast(ref.MoCoQueue):
    def forward(self, q, k, temperature):
        logits = super().forward(q, k, temperature)
        return torch.cat([logits[:, 1:], logits[:, :1]], dim=1)


class _TemperatureMultiplied(ref.MoCoQueue):
    def forward(self, q, k, temperature):
        return super().forward(q, k, 1 / temperature)


class _EnqueueBeforeLogits(ref.MoCoQueue):
    """The current keys enter the queue before the logits: each positive is also a negative."""

    def forward(self, q, k, temperature):
        super().enqueue(k)
        return super().forward(q, k, temperature)

    def enqueue(self, keys):
        return None


class _NoWrap(ref.MoCoQueue):
    @torch.no_grad()
    def enqueue(self, keys):
        size = self.queue.shape[0]
        p = int(self.ptr)
        n = min(keys.shape[0], size - p)
        self.queue[p : p + n] = keys[:n].to(self.queue.dtype)
        self.ptr[0] = (p + keys.shape[0]) % size


QUEUE_MISTAKES = {
    "the pointer is not advanced (every batch overwrites the same rows)": _PointerStuck,
    "the positive logit placed last instead of in column 0": _PositiveLast,
    "temperature multiplied instead of divided": _TemperatureMultiplied,
    "the current keys enqueued before computing the logits: each positive is also counted among the negatives": _EnqueueBeforeLogits,
    "keys past the end of the queue dropped instead of wrapping around to row 0": _NoWrap,
}


# --- known mistakes: the momentum update ------------------------------------------------------
class _WrongWayRound(ref.MomentumEncoder):
    @torch.no_grad()
    def update(self, m):
        ref.momentum_update(list(self.target.parameters()), list(self.online.parameters()), 1 - m)


class _Copy(ref.MomentumEncoder):
    @torch.no_grad()
    def update(self, m):
        ref.momentum_update(list(self.target.parameters()), list(self.online.parameters()), 0.0)


class _OnlineMoved(ref.MomentumEncoder):
    @torch.no_grad()
    def update(self, m):
        ref.momentum_update(list(self.online.parameters()), list(self.target.parameters()), m)


MOMENTUM_MISTAKES = {
    "momentum applied the wrong way round (theta_k <- (1 - m) theta_k + m theta_q)": _WrongWayRound,
    "the target copied from the online network (m ignored)": _Copy,
    "the online network moved towards the target instead of the target towards the online": _OnlineMoved,
}


# --- cases ------------------------------------------------------------------------------------
def _unit(gen, *shape, dtype=torch.float32):
    return F.normalize(_randn(gen, *shape), dim=-1).to(dtype)


# (dim, K, batch sizes of the successive steps): visible (one wrap), then edge cases (K = 1,
# a batch as large as the queue, batches that do not divide K), then random ones.
VISIBLE = [(4, 6, [2, 2, 2, 2])]
HIDDEN = [(3, 1, [1, 1, 1]), (5, 4, [4, 4]), (8, 7, [3, 3, 3, 2]), (2, 10, [4, 1, 6, 5])]


def queue_cases(gen, device, visible=False):
    table = list(VISIBLE if visible else HIDDEN)
    if not visible:
        for _ in range(2):
            k = _ri(gen, 4, 32)
            table.append((_ri(gen, 2, 16), k, [_ri(gen, 1, k) for _ in range(_ri(gen, 2, 5))]))
    for i, (dim, size, batches) in enumerate(table):
        tau = [0.07, 0.2, 1.0][i % 3]
        steps = []
        for b in batches:
            q, k = _unit(gen, b, dim), _unit(gen, b, dim)
            steps += [Step((q, k, tau)), Step((k,), method="enqueue")]
        b = batches[0]
        steps.append(Step((_unit(gen, b, dim), _unit(gen, b, dim), tau)))
        yield Case(
            f"dim {dim}, queue of {size}, batches of {batches}, temperature {tau}: "
            "logits, enqueue, ..., logits",
            steps,
            init={"dim": dim, "size": size},
            grad_wrt=() if visible else (0, 1),
            device=device,
        )


def momentum_cases(gen, device, visible=False):
    table = [(3, 2, [0.9, 0.5])] if visible else [(4, 3, [0.99, 0.0, 1.0]), (1, 1, [0.5, 0.9])]
    if not visible:
        table.append((_ri(gen, 2, 16), _ri(gen, 1, 8), [0.996, 0.7]))
    for d_in, d_out, ms in table:
        x = _randn(gen, _ri(gen, 1, 4), d_in)
        steps = [Step((x,))]
        for m in ms:
            steps += [Step((m,), method="update"), Step((x,))]
        yield Case(
            f"Linear({d_in}, {d_out}), forward, then update(m) and forward for m in {ms}",
            steps,
            init={"dim_in": d_in, "dim_out": d_out},
            device=device,
        )


# --- registration -----------------------------------------------------------------------------
key_stopped = stop_gradient_compare({1: "k"})
register_pair(
    name="ssl_learning.moco_queue",
    target="MoCoQueue",
    reference=ref.MoCoQueue,
    cases=queue_cases,
    misconceptions=QUEUE_MISTAKES,
    compare=key_stopped,
    tol=BF16,
    float32_inside=True,
)
register_pair(
    name="ssl_learning.momentum_encoder",
    target="MomentumEncoder",
    reference=ref.MomentumEncoder,
    cases=momentum_cases,
    misconceptions=MOMENTUM_MISTAKES,
    tol=BF16,
    float32_inside=True,
)
