"""The warm-up + cosine schedule (course/schedules.py) against torch.optim.lr_scheduler's own
LinearLR -> CosineAnnealingLR chain, and the endpoints the LLaMA papers state."""

import math

import pytest
import torch

from course.schedules import warmup_cosine_factor, warmup_cosine_lr


def torch_schedule(peak: float, warmup: int, total: int, final_ratio: float) -> list[float]:
    """Learning rates of updates 0..total-1 from torch's schedulers (an independent oracle)."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=peak)
    warm = torch.optim.lr_scheduler.LinearLR(
        opt, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1
    )
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=total - 1 - warmup, eta_min=final_ratio * peak
    )
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cosine], milestones=[warmup])
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


@pytest.mark.parametrize(
    ("peak", "warmup", "total", "final_ratio"),
    [(3e-4, 20, 200, 0.1), (1.5e-4, 7, 50, 0.1), (1.0, 5, 17, 0.0), (8e-5, 100, 1000, 0.01)],
)
def test_matches_torch_lr_schedulers(peak, warmup, total, final_ratio):
    ours = [
        warmup_cosine_lr(
            s, peak_lr=peak, warmup_steps=warmup, total_steps=total, final_ratio=final_ratio
        )
        for s in range(total)
    ]
    expected = torch_schedule(peak, warmup, total, final_ratio)
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12 * peak)


def test_llama_endpoints():
    peak, warmup, total = 3e-4, 2000, 250_000
    lr = lambda s: warmup_cosine_lr(s, peak_lr=peak, warmup_steps=warmup, total_steps=total)  # noqa: E731
    assert lr(0) == pytest.approx(peak / warmup)
    assert lr(999) == pytest.approx(peak / 2)
    assert lr(warmup - 1) == pytest.approx(peak) and lr(warmup) == pytest.approx(peak)
    middle = warmup + (total - 1 - warmup) / 2
    assert lr(int(middle)) == pytest.approx(0.55 * peak, rel=1e-4)  # halfway down the cosine
    assert lr(total - 1) == pytest.approx(0.1 * peak)  # "10% of the maximal learning rate"
    assert lr(total + 10) == pytest.approx(0.1 * peak)  # stays at the floor
    assert all(lr(s) >= lr(s + 1) for s in range(warmup, total, 997))  # monotone decay


def test_factor_drives_lambda_lr():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=2.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine_factor(s, warmup_steps=3, total_steps=10)
    )
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen[:3] == pytest.approx([2 / 3, 4 / 3, 2.0])
    assert seen[-1] == pytest.approx(0.2)
    assert math.isclose(seen[3], 2.0)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        warmup_cosine_lr(0, peak_lr=1.0, warmup_steps=10, total_steps=10)
    with pytest.raises(ValueError):
        warmup_cosine_lr(-1, peak_lr=1.0, warmup_steps=1, total_steps=10)
