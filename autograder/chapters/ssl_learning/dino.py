"""``ssl_learning.dino_loss``: DINO's self-distillation loss: the teacher centred and sharpened
(stop-gradient: checked), cross-entropy over every (teacher view, other student crop) pair, and
the EMA of the center.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.chapters.ssl_learning._common import BF16, _dt, _randn, _ri, stop_gradient_compare
from autograder.checks.spec import call_case, case_table, register_pair
from course import ssl_learning as ref


# --- known mistakes ---------------------------------------------------------------------------
def _general(
    student_out,
    teacher_out,
    center,
    n_crops,
    student_temp,
    teacher_temp,
    center_momentum,
    center_on_student=False,
    same_view=False,
):
    t_in = teacher_out.detach() if center_on_student else teacher_out.detach() - center
    s_in = student_out - center.repeat(1, 1) if center_on_student else student_out
    t = F.softmax(t_in / teacher_temp, dim=-1).chunk(2)
    s = F.log_softmax(s_in / student_temp, dim=-1).chunk(n_crops)
    terms = [
        (-(tp * sp).sum(-1)).mean()
        for it, tp in enumerate(t)
        for v, sp in enumerate(s)
        if same_view or v != it
    ]
    new_center = center * center_momentum + teacher_out.detach().mean(0, keepdim=True) * (
        1 - center_momentum
    )
    return sum(terms) / len(terms), new_center


def _center_on_student(s, t, c, n, st=0.1, tt=0.04, m=0.9):
    return _general(s, t, c, n, st, tt, m, center_on_student=True)


def _not_sharpened(s, t, c, n, st=0.1, tt=0.04, m=0.9):
    return ref.dino_loss(s, t, c, n, st, st, m)


def _center_wrong_way(s, t, c, n, st=0.1, tt=0.04, m=0.9):
    loss, _ = ref.dino_loss(s, t, c, n, st, tt, m)
    return loss, c * (1 - m) + t.detach().mean(0, keepdim=True) * m


def _same_view(s, t, c, n, st=0.1, tt=0.04, m=0.9):
    return _general(s, t, c, n, st, tt, m, same_view=True)


def _center_from_student(s, t, c, n, st=0.1, tt=0.04, m=0.9):
    loss, _ = ref.dino_loss(s, t, c, n, st, tt, m)
    return loss, c * m + s.detach().mean(0, keepdim=True) * (1 - m)


MISTAKES = {
    "the center subtracted from the student's logits instead of the teacher's": _center_on_student,
    "teacher not sharpened (the student temperature used for the teacher)": _not_sharpened,
    "center EMA the wrong way round (m on the batch mean, 1 - m on the old center)": _center_wrong_way,
    "each teacher view also compared with the same student view (pairs v == t must be skipped)": _same_view,
    "the center updated from the student's outputs instead of the teacher's": _center_from_student,
}


# --- cases ------------------------------------------------------------------------------------
# (B, K, n_crops, student_temp, teacher_temp, center_momentum): visible (2 crops, then 4), then
# edge cases (B = 1, K = 2, momentum 0 and 1), then random ones.
VISIBLE = [(2, 5, 2, 0.1, 0.04, 0.9), (3, 8, 4, 0.1, 0.07, 0.9)]
HIDDEN = [(1, 2, 2, 0.1, 0.04, 0.0), (2, 16, 6, 0.2, 0.04, 1.0), (4, 64, 3, 0.1, 0.06, 0.9)]


def cases(gen, device, visible=False):
    def draw():
        return (
            _ri(gen, 1, 6),
            _ri(gen, 3, 48),
            _ri(gen, 2, 6),
            0.1,
            0.04 + 0.01 * _ri(gen, 0, 3),
            0.9,
        )

    for i, (b, k, crops, st, tt, m) in enumerate(case_table(visible, VISIBLE, HIDDEN, draw, 2)):
        dtype = torch.float64 if i % 3 == 1 else torch.float32  # visible too (the dtype rule)
        student = _randn(gen, crops * b, k, dtype=dtype)
        teacher = _randn(gen, 2 * b, k, dtype=dtype)
        center = _randn(gen, 1, k, scale=0.3, dtype=dtype)
        label = f"B {b}, K {k}, {crops} crops {_dt(dtype)}, student_temp {st}, teacher_temp {tt}"
        args = (student, teacher, center, crops, st, tt, m)
        grads = () if visible else (0, 1)
        yield call_case(f"{label}, center_momentum {m}", *args, grads=grads, device=device)


# --- registration -----------------------------------------------------------------------------
teacher_stopped = stop_gradient_compare({1: "teacher_out"})
register_pair(
    name="ssl_learning.dino_loss",
    target="dino_loss",
    reference=ref.dino_loss,
    cases=cases,
    misconceptions=MISTAKES,
    compare=teacher_stopped,
    tol=BF16,
    float32_inside=True,
)
