"""``foundation.embed_prompts`` (block 3): SAM's random-Fourier encoding of clicks and boxes.
Known mistakes, then the cases, then the registration."""

from __future__ import annotations

import torch

from autograder.chapters.foundation._common import _randn, _ri
from autograder.checks.spec import Case, Step, register_pair
from course.foundation import sam as ref


def _variant(half=0.5, signed=True, swap=False):
    """embed_prompts with one step changed: the pixel-centre shift, the map to [-1, 1], or x/y."""

    def pe(coords, image_size):
        h, w = image_size
        size = torch.tensor([h, w] if swap else [w, h], dtype=coords.dtype, device=coords.device)
        c = coords / size
        return c * 2 - 1 if signed else c

    def embed(points, labels, boxes, image_size, gaussian, point_embed, not_a_point):
        def fourier(coords):
            c = 2 * torch.pi * (pe(coords + half, image_size).to(gaussian.dtype) @ gaussian)
            return torch.cat([torch.sin(c), torch.cos(c)], dim=-1)

        b = points.shape[0]
        if boxes is None:
            points = torch.cat([points, points.new_full((b, 1, 2), -half)], dim=1)
            labels = torch.cat([labels, labels.new_full((b, 1), -1)], dim=1)
        out = fourier(points)
        lab = labels[..., None]
        out = torch.where(lab == -1, not_a_point.expand_as(out), out)
        out = out + (lab == 0) * point_embed[0] + (lab == 1) * point_embed[1]
        if boxes is None:
            return out
        return torch.cat([out, fourier(boxes.reshape(b, 2, 2)) + point_embed[2:4]], dim=1)

    return embed


_swapped = _variant(swap=True)
_no_half = _variant(half=0.0)
_unit_square = _variant(signed=False)


def _fg_bg_swapped(points, labels, boxes, image_size, gaussian, point_embed, not_a_point):
    pe = point_embed.clone()
    pe[[0, 1]] = point_embed[[1, 0]]
    return ref.embed_prompts(points, labels, boxes, image_size, gaussian, pe, not_a_point)


def _no_padding_point(points, labels, boxes, image_size, gaussian, point_embed, not_a_point):
    out = ref.embed_prompts(points, labels, boxes, image_size, gaussian, point_embed, not_a_point)
    return out if boxes is not None else out[:, :-1]


MISTAKES = {
    "(x, y) swapped: x must be divided by the width W and y by the height H": _swapped,
    "no +0.5 shift to the pixel centre": _no_half,
    "coordinates normalised to [0, 1] but not mapped to [-1, 1] (2c - 1)": _unit_square,
    "foreground and background embeddings swapped (label 1 is foreground: point_embed[1])": (
        _fg_bg_swapped
    ),
    "no padding point appended when there is no box": _no_padding_point,
}


def _cases(gen, device, visible=False):
    table = [  # (B, N, with_box, (H, W), C, dtype)
        (1, 2, False, (48, 64), 16, torch.float32),
        (2, 1, True, (64, 64), 8, torch.float32),
    ]
    if not visible:
        table += [
            (3, 4, False, (40, 100), 32, torch.float32),
            (2, 0, True, (1024, 768), 16, torch.float32),
            (1, 0, False, (30, 20), 8, torch.float64),
            (
                _ri(gen, 1, 4),
                _ri(gen, 1, 6),
                True,
                (_ri(gen, 8, 300), _ri(gen, 8, 300)),
                24,
                torch.float64,
            ),
            (2, 3, True, (64, 96), 16, torch.bfloat16),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(1, 2, True, (32, 48), 8, torch.bfloat16)]
    for i, (b, n, with_box, (h, w), c, dtype) in enumerate(table):
        size = torch.tensor([w, h], dtype=torch.float64)
        points = (torch.rand(b, n, 2, generator=gen, dtype=torch.float64) * size).to(dtype)
        labels = torch.randint(-1, 2, (b, n), generator=gen)
        if n:
            labels[0, 0] = 1
        boxes = None
        if with_box:
            corners = (torch.rand(b, 2, 2, generator=gen, dtype=torch.float64) * size).sort(dim=1)
            boxes = corners.values.reshape(b, 4).to(dtype)
        gaussian = _randn(gen, 2, c // 2, dtype=dtype)
        point_embed = _randn(gen, 4, c, dtype=dtype)
        not_a_point = _randn(gen, c, dtype=dtype)
        grad = (4, 5, 6) if (i >= 2 and dtype == torch.float32) else ()  # first: values, shape
        yield Case(
            f"B={b}, {n} points, {'a box' if with_box else 'no box'}, image (H, W)=({h}, {w}), "
            f"C={c}, {str(dtype)[6:]}",
            [Step((points, labels, boxes, [h, w], gaussian, point_embed, not_a_point))],
            grad_wrt=grad,
            device=device,
        )


register_pair(
    name="foundation.embed_prompts",
    target="embed_prompts",
    reference=ref.embed_prompts,
    cases=_cases,
    misconceptions=MISTAKES,
)
