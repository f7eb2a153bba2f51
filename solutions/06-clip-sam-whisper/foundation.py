# ---
# jupyter:
#   autograder:
#     cpu_s: 180
#     memory_mb: 3072
#     timeout_s: 30
#     student_budget_s: 300
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CLIP, SAM and Whisper: the blocks that make three foundation models
#
# You will write the pieces that distinguish three foundation models from a plain transformer:
# CLIP's symmetric contrastive loss and its zero-shot classifier; SAM's prompt encoding, its
# two-way attention block and its mask-selection rule; Whisper's log-mel front end (equal to
# openai-whisper's to float precision), its convolutional stem, its sinusoidal positions and the
# special-token prompt that tells its decoder what to do.
#
# Each block has a **docstring contract**; keep the names and signatures. Run the test cell after
# each answer: it runs *visible* checks that explain any mismatch. The grader runs more cases
# (other shapes, float64 and bfloat16, gradients, length 1, empty prompts, 30 s of audio) in a
# separate process, with **30 s per call, 3 GB of memory and 300 s for the whole notebook**.
#
# Shapes: `B` batch, `N` pairs or points, `D`/`C` embedding width. Inputs arrive on the grader's
# device (CPU here; CUDA when present): create new tensors with `device=x.device`.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
import math

import torch
from torch import nn
from torch.nn import functional as F
from whisper.audio import mel_filters  # openai-whisper's own assets (no course code needed)
from whisper.tokenizer import LANGUAGES, get_tokenizer

try:  # the course's student kit: the visible checks and the weight loaders
    from coursekit import check
except ImportError:  # Colab, a fresh laptop: install it once (see the students' guide)
    import subprocess
    import sys

    KIT = "https://transformer-workloads.github.io/course/release/coursekit-0.1.0-py3-none-any.whl"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", KIT])
    from coursekit import check


def special_tokens(multilingual: bool = True) -> dict[str, int]:
    """Token ids of the special tokens a decoder prompt uses, from openai-whisper's tokenizer."""
    tok = get_tokenizer(multilingual)
    names = [f"<|{code}|>" for code in LANGUAGES] + [
        "<|startoftranscript|>",
        "<|transcribe|>",
        "<|translate|>",
        "<|notimestamps|>",
        "<|startofprev|>",
        "<|nospeech|>",
    ]
    return {n: tok.special_tokens[n] for n in names if n in tok.special_tokens}


device = "cuda" if torch.cuda.is_available() else "cpu"
print("running on", device)
MEL_80 = mel_filters("cpu", 80)  # (80, 201): openai-whisper's filter bank (librosa's Slaney mel)
SPECIAL = special_tokens(multilingual=True)  # "<|en|>" -> 50259, "<|transcribe|>" -> 50359, ...
SPECIAL_EN = special_tokens(multilingual=False)  # the English-only models' ids (tiny.en)
print(len(SPECIAL), "special tokens; <|startoftranscript|> =", SPECIAL["<|startoftranscript|>"])

# %% [markdown]
# ## 1. CLIP's contrastive loss (2 points)
#
# *Taught in the book:* [CLIP](../../book/06-clip-sam-whisper/clip.md) (`book/06-clip-sam-whisper/clip.md`).
#
# A batch holds `N` (image, text) pairs; row `i` of each embedding matrix belongs to pair `i`.
# L2-normalise both, form the `N x N` logits `s * I T^T` with the logit scale
# `s = exp(clamp(t, 0, ln 100))` (CLIP learns `t` and clips the scale at 100; open_clip also keeps
# it at least 1), and average the cross-entropy of each **row** against target `i` (image → text)
# and of each **column** (text → image). Hidden cases: `N` from 1 to 40, `D` from 2 to 64,
# `t` from -0.7 to 7 (inside and outside the clamp), float32, float64 and bfloat16 (return the
# input's dtype), gradients with respect to both embeddings and `t` (none through the clamp when
# it is active).
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `image_features` (`device=image_features.device`). The targets too.
# **Dtype:** float32, float64 and bfloat16, all three inputs in one dtype; return that dtype.


# %% nbgrader={"grade": false, "grade_id": "clip_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def clip_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, log_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric contrastive loss.

    Args:
        image_features: (N, D) float, not normalised.
        text_features: (N, D) same dtype; row i is the caption of image i.
        log_scale: () tensor t, same dtype; the scale is exp(clamp(t, 0, ln 100)).
    Returns:
        () the mean of the image->text and text->image cross-entropies, in the input dtype.
    """
    ### BEGIN SOLUTION
    img = F.normalize(image_features, dim=-1)
    txt = F.normalize(text_features, dim=-1)
    logits = log_scale.clamp(0.0, math.log(100.0)).exp() * img @ txt.T
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_clip_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = torch.eye(3)
perfect = clip_loss(x, x, torch.tensor(math.log(100.0)))
assert perfect < 1e-6, "matching pairs, scale 100: the loss is nearly 0"
assert torch.isclose(clip_loss(x, x, torch.tensor(0.0)), -torch.log_softmax(x[0], 0)[0]), "scale 1"
check("foundation.clip_loss.visible", clip_loss)
### BEGIN HIDDEN TESTS
check("foundation.clip_loss", clip_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. A zero-shot classifier with prompt ensembling (2 points)
#
# *Taught in the book:* [CLIP](../../book/06-clip-sam-whisper/clip.md), section *Zero-shot classification*.
#
# Each class name fills `P` templates (`"a photo of a {}."`, `"a blurry photo of a {}."`, ...);
# the text encoder embeds the `C x P` prompts (`prompt_features`, class-major). The class's
# embedding is the **mean of its normalised prompt embeddings, normalised again**; the logits are
# `logit_scale * cos(image, class)`. Hidden cases: `B` 1 to 9 images, `C` 1 to 12 classes, `P` 1
# to 18 templates (`P = 1` is a single prompt), prompt norms from about 0.2 to 5, `logit_scale`
# 1 to 100, float32/float64/bfloat16, gradients with respect to both inputs.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `image_features` (`device=image_features.device`). `logit_scale` is a
# Python float. **Dtype:** float32, float64 and bfloat16, both inputs in one dtype; return that
# dtype.


# %% nbgrader={"grade": false, "grade_id": "zero_shot", "locked": false, "schema_version": 3, "solution": true, "task": false}
def zero_shot_logits(
    image_features: torch.Tensor, prompt_features: torch.Tensor, logit_scale: float = 100.0
) -> torch.Tensor:
    """Zero-shot logits.

    Args:
        image_features: (B, D) not normalised.
        prompt_features: (C, P, D) text embeddings of P templates for each of C classes.
        logit_scale: a Python float (already exponentiated).
    Returns:
        (B, C) logits in the input dtype.
    """
    ### BEGIN SOLUTION
    classes = F.normalize(F.normalize(prompt_features, dim=-1).mean(dim=1), dim=-1)
    return logit_scale * F.normalize(image_features, dim=-1) @ classes.T
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_zero_shot", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
prompts = torch.tensor([[[1.0, 0.0], [10.0, 1.0]], [[0.0, 1.0], [0.0, 3.0]]])  # 2 classes, 2 each
logits = zero_shot_logits(torch.tensor([[2.0, 0.2]]), prompts, 100.0)
assert logits.shape == (1, 2) and logits[0, 0] > logits[0, 1]
check("foundation.zero_shot.visible", zero_shot_logits)
### BEGIN HIDDEN TESTS
check("foundation.zero_shot", zero_shot_logits)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. SAM's prompt encoding: clicks and boxes (3 points)
#
# *Taught in the book:* [SAM](../../book/06-clip-sam-whisper/sam.md), section *The prompt encoder*.
#
# For each coordinate `(x, y)` in pixels: shift to the pixel centre (`+ 0.5`), divide **x by the
# width W and y by the height H**, map to `[-1, 1]` with `2c - 1`, multiply by the random matrix
# `gaussian` (2, C/2), multiply by `2π` and return `[sin | cos]` (C channels). Then add the learned
# embedding of the prompt's role:
#
# - a click labelled 1 (foreground) adds `point_embed[1]`, labelled 0 (background) adds
#   `point_embed[0]`; a click labelled -1 (padding) is **replaced** by `not_a_point` (no Fourier
#   features at all);
# - when there is **no box**, append one padding point (label -1) after the clicks;
# - a box `(x0, y0, x1, y1)` is two corners: encode `(x0, y0)` and `(x1, y1)` like points and add
#   `point_embed[2]` and `point_embed[3]`; the two corners follow the clicks.
#
# Hidden cases: `B` 1 to 4, 0 to 6 clicks (shape `(B, 0, 2)` for none), labels in {1, 0, -1},
# non-square images from 8 to 1024 pixels a side, `C` 8 to 32, float32/float64/bfloat16,
# gradients with respect to `gaussian`, `point_embed` and `not_a_point`.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `points` (`device=points.device`). The image size and the padding point
# too. **Dtype:** float32, float64 and bfloat16 coordinates and embeddings (one dtype), int64
# `labels`, `image_size` a list of Python ints; return the embeddings' dtype.


# %% nbgrader={"grade": false, "grade_id": "embed_prompts", "locked": false, "schema_version": 3, "solution": true, "task": false}
def embed_prompts(points, labels, boxes, image_size, gaussian, point_embed, not_a_point):
    """SAM's sparse prompt embeddings.

    Args:
        points: (B, N, 2) float (x, y) pixel coordinates; N may be 0.
        labels: (B, N) long in {1, 0, -1}.
        boxes: (B, 4) float (x0, y0, x1, y1), or None.
        image_size: (H, W) two ints (a tuple or list).
        gaussian: (2, C // 2); point_embed: (4, C); not_a_point: (C,); same dtype as points.
    Returns:
        (B, N + 1, C) without boxes, (B, N + 2, C) with boxes.
    """
    ### BEGIN SOLUTION
    h, w = image_size
    size = torch.tensor([w, h], dtype=points.dtype, device=points.device)

    def fourier(coords):
        c = (2 * (coords + 0.5) / size - 1) @ gaussian * (2 * math.pi)
        return torch.cat([torch.sin(c), torch.cos(c)], dim=-1)

    b = points.shape[0]
    if boxes is None:
        points = torch.cat([points, points.new_zeros(b, 1, 2)], dim=1)
        labels = torch.cat([labels, labels.new_full((b, 1), -1)], dim=1)
    out = fourier(points)
    lab = labels[..., None]
    out = torch.where(lab == -1, not_a_point.expand_as(out), out)
    out = out + (lab == 0) * point_embed[0] + (lab == 1) * point_embed[1]
    if boxes is None:
        return out
    corners = fourier(boxes.reshape(b, 2, 2)) + point_embed[2:4]
    return torch.cat([out, corners], dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_embed_prompts", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
g = torch.randn(2, 4)
pe, nap = torch.randn(4, 8), torch.randn(8)
one = embed_prompts(torch.tensor([[[10.0, 20.0]]]), torch.tensor([[1]]), None, (64, 48), g, pe, nap)
assert one.shape == (1, 2, 8) and torch.equal(one[0, 1], nap), "the padding point is not_a_point"
with_box = embed_prompts(
    torch.zeros(1, 0, 2),
    torch.zeros(1, 0, dtype=torch.long),
    torch.tensor([[1.0, 2, 30, 40]]),
    (64, 48),
    g,
    pe,
    nap,
)
assert with_box.shape == (1, 2, 8), "a box alone: two corners, no padding point"
check("foundation.embed_prompts.visible", embed_prompts)
### BEGIN HIDDEN TESTS
check("foundation.embed_prompts", embed_prompts)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The two-way attention block (1 + 3 points)
#
# *Taught in the book:* [SAM](../../book/06-clip-sam-whisper/sam.md), section *The mask decoder*.
#
# **`SamAttention(embedding_dim, num_heads, downsample_rate=1)`**: `q_proj`, `k_proj`, `v_proj`
# are `nn.Linear(C, C // rate)` (with bias), split into `num_heads` heads, softmax of
# `q k^T / sqrt(head_dim)` over the keys (head_dim = `C // rate // num_heads`), heads merged,
# `out_proj = nn.Linear(C // rate, C)`. `forward(query (B, Nq, C), key (B, Nk, C), value (B, Nk, C))`
# returns `(B, Nq, C)`. No mask.
#
# **`TwoWayAttentionBlock(embedding_dim, num_heads, mlp_dim, attention_downsample_rate=2,
# skip_first_layer_pe=False)`** with exactly these submodules (Hugging Face's names):
# `self_attn = SamAttention(C, h, 1)`, `cross_attn_token_to_image = SamAttention(C, h, rate)`,
# `cross_attn_image_to_token = SamAttention(C, h, rate)`, `mlp` with `mlp.lin1 = Linear(C,
# mlp_dim)`, ReLU, `mlp.lin2 = Linear(mlp_dim, C)`, and `layer_norm1`..`layer_norm4 =
# nn.LayerNorm(C, eps=1e-6)`. `forward(queries, keys, query_pe, key_pe)`, tokens `(B, Nq, C)`,
# image `(B, Nk, C)`, returns `(queries, keys)`:
#
# 1. self-attention: `q = queries + query_pe`, `queries = queries + self_attn(q, q, queries)`; if
#    `skip_first_layer_pe`: `queries = self_attn(queries, queries, queries)` (no pe, no residual);
#    then `layer_norm1`;
# 2. tokens → image: `queries += cross_attn_token_to_image(queries + query_pe, keys + key_pe,
#    keys)`, `layer_norm2`;
# 3. `queries += mlp(queries)`, `layer_norm3`;
# 4. image → tokens: `keys += cross_attn_image_to_token(keys + key_pe, queries + query_pe,
#    queries)`, `layer_norm4`.
#
# The block is graded with the reference `SamAttention` in its three attention slots, so a
# mistake in `SamAttention` costs its own point only. Hidden cases: `C` 8 to 64, 1 to 8 heads,
# rate 1 to 3, 1 to 7 tokens, 1 to 64 image positions, bfloat16 parameters, gradients of inputs
# and parameters.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `queries` (`device=queries.device`). **Dtype:**
# float32, or bfloat16 parameters with bfloat16 inputs (both classes); return the inputs' dtype.


# %% nbgrader={"grade": false, "grade_id": "two_way_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
class SamAttention(nn.Module):
    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1):
        super().__init__()
        ### BEGIN SOLUTION
        self.num_heads = num_heads
        inner = embedding_dim // downsample_rate
        self.q_proj = nn.Linear(embedding_dim, inner)
        self.k_proj = nn.Linear(embedding_dim, inner)
        self.v_proj = nn.Linear(embedding_dim, inner)
        self.out_proj = nn.Linear(inner, embedding_dim)
        ### END SOLUTION

    def forward(self, query, key, value):
        ### BEGIN SOLUTION
        def heads(x):
            b, n, c = x.shape
            return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

        q, k, v = heads(self.q_proj(query)), heads(self.k_proj(key)), heads(self.v_proj(value))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        out = (att @ v).transpose(1, 2)
        return self.out_proj(out.reshape(*out.shape[:2], -1))
        ### END SOLUTION


class TwoWayAttentionBlock(nn.Module):
    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        attention_downsample_rate: int = 2,
        skip_first_layer_pe: bool = False,
    ):
        super().__init__()
        ### BEGIN SOLUTION
        c, r = embedding_dim, attention_downsample_rate
        self.self_attn = SamAttention(c, num_heads, 1)
        self.layer_norm1 = nn.LayerNorm(c, eps=1e-6)
        self.cross_attn_token_to_image = SamAttention(c, num_heads, r)
        self.layer_norm2 = nn.LayerNorm(c, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.lin1 = nn.Linear(c, mlp_dim)
        self.mlp.lin2 = nn.Linear(mlp_dim, c)
        self.layer_norm3 = nn.LayerNorm(c, eps=1e-6)
        self.layer_norm4 = nn.LayerNorm(c, eps=1e-6)
        self.cross_attn_image_to_token = SamAttention(c, num_heads, r)
        self.skip_first_layer_pe = skip_first_layer_pe
        ### END SOLUTION

    def forward(self, queries, keys, query_pe, key_pe):
        ### BEGIN SOLUTION
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.layer_norm1(queries)
        q, k = queries + query_pe, keys + key_pe
        queries = self.layer_norm2(queries + self.cross_attn_token_to_image(q, k, keys))
        queries = self.layer_norm3(queries + self.mlp.lin2(F.relu(self.mlp.lin1(queries))))
        q, k = queries + query_pe, keys + key_pe
        keys = self.layer_norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sam_attention", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
assert SamAttention(16, 2, 2).q_proj.weight.shape == (8, 16)
check("foundation.sam_attention.visible", SamAttention)
### BEGIN HIDDEN TESTS
check("foundation.sam_attention", SamAttention)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_two_way_block", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
blk = TwoWayAttentionBlock(16, 2, 24)
out_q, out_k = blk(
    torch.randn(1, 3, 16), torch.randn(1, 4, 16), torch.randn(1, 3, 16), torch.randn(1, 4, 16)
)
assert out_q.shape == (1, 3, 16) and out_k.shape == (1, 4, 16)
check("foundation.two_way_block.visible", TwoWayAttentionBlock)
### BEGIN HIDDEN TESTS
check("foundation.two_way_block", TwoWayAttentionBlock)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Choosing a mask by predicted IoU (1 point)
#
# *Taught in the book:* [SAM](../../book/06-clip-sam-whisper/sam.md), section *The mask decoder* (three masks for an ambiguous click).
#
# SAM's decoder predicts four masks and four IoU scores per prompt: output 0 answers
# single-mask requests, outputs 1–3 are the ambiguity-aware candidates (whole, part, subpart).
# With `multimask_output=True` return the candidate **among outputs 1, 2, 3** with the highest
# predicted IoU (the first one on ties); with `False` return output 0. The mask is binarised at
# logit 0 (`logits > 0`). Hidden cases: `B` 1 to 6, masks from 1x1 to 32x32, both flags,
# float32/float64/bfloat16.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `masks` (`device=masks.device`). The chosen indices too. **Dtype:**
# float32, float64 and bfloat16 `masks` and `iou_pred` (one dtype); the mask bool, the score in
# `iou_pred`'s dtype, the index int64.


# %% nbgrader={"grade": false, "grade_id": "select_masks", "locked": false, "schema_version": 3, "solution": true, "task": false}
def select_masks(masks, iou_pred, multimask_output: bool):
    """One mask per prompt.

    Args:
        masks: (B, 4, H, W) mask logits.
        iou_pred: (B, 4) predicted IoU.
        multimask_output: bool.
    Returns:
        (mask (B, H, W) bool, score (B,) in iou_pred's dtype, index (B,) long in 0..3).
    """
    ### BEGIN SOLUTION
    b = masks.shape[0]
    if multimask_output:
        index = iou_pred[:, 1:].argmax(dim=1) + 1
    else:
        index = torch.zeros(b, dtype=torch.long, device=masks.device)
    rows = torch.arange(b, device=masks.device)
    return masks[rows, index] > 0, iou_pred[rows, index], index
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_select_masks", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
m = torch.randn(1, 4, 2, 2)
_, score, idx = select_masks(m, torch.tensor([[0.99, 0.5, 0.8, 0.7]]), True)
assert idx.tolist() == [2] and abs(score.item() - 0.8) < 1e-6, "output 0 is not a candidate"
check("foundation.select_masks.visible", select_masks)
### BEGIN HIDDEN TESTS
check("foundation.select_masks", select_masks)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Whisper's log-mel spectrogram (3 points)
#
# *Taught in the book:* [Whisper](../../book/06-clip-sam-whisper/whisper.md), section *From waveform to log-mel*.
#
# For a 16 kHz waveform: a **centred** STFT (reflect-pad 200 samples on each side) with a
# periodic Hann window of 400 samples (25 ms) and hop 160 (10 ms), i.e.
# `torch.stft(audio, 400, 160, window=torch.hann_window(400, ...), return_complex=True)`; drop the
# last frame; the **power** `|X|^2`; the mel filter bank `filters @ power`; `log10` of the result
# clamped below at `1e-10`; raise everything below `max - 8` (the global maximum) to `max - 8`;
# finally `(x + 4) / 4`. The result equals openai-whisper's `log_mel_spectrogram`. Hidden cases:
# 201 samples (one frame) to 30 s (480,000 samples, 3,000 frames), silent stretches, 80 or 128
# mels (filters are given, like `MEL_80`), float32 and float64 (the window in the audio's dtype).
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `audio` (`device=audio.device`). The Hann window too.
# **Dtype:** float32 and float64, `filters` in the audio's dtype; return the audio's dtype.


# %% nbgrader={"grade": false, "grade_id": "log_mel", "locked": false, "schema_version": 3, "solution": true, "task": false}
def log_mel_spectrogram(audio: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """Args: audio (T,) with T > 200; filters (n_mels, 201), same dtype.
    Returns: (n_mels, T // 160) in the audio's dtype."""
    ### BEGIN SOLUTION
    window = torch.hann_window(400, dtype=audio.dtype, device=audio.device)
    stft = torch.stft(audio, 400, 160, window=window, return_complex=True)
    spec = torch.clamp(filters @ stft[..., :-1].abs() ** 2, min=1e-10).log10()
    spec = torch.maximum(spec, spec.max() - 8.0)
    return (spec + 4.0) / 4.0
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_log_mel", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
tone = torch.sin(2 * math.pi * 440 * torch.arange(16000) / 16000)
spec = log_mel_spectrogram(tone, MEL_80)
assert spec.shape == (80, 100), "1 s at 10 ms per frame: 100 frames"
assert spec.max() - spec.min() <= 2.0 + 1e-6, "the dynamic range is at most 8 decades: 2 after / 4"
check("foundation.log_mel.visible", log_mel_spectrogram)
### BEGIN HIDDEN TESTS
check("foundation.log_mel", log_mel_spectrogram)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. The convolutional stem (2 points)
#
# *Taught in the book:* [Whisper](../../book/06-clip-sam-whisper/whisper.md), section *The encoder: a convolutional stem, then a transformer*.
#
# `WhisperConvStem(n_mels, d_model)` with `conv1 = nn.Conv1d(n_mels, d_model, kernel_size=3,
# padding=1)` and `conv2 = nn.Conv1d(d_model, d_model, kernel_size=3, stride=2, padding=1)`;
# `forward(mel (B, n_mels, T))` applies `gelu(conv1)`, then `gelu(conv2)` (exact GELU, `F.gelu`),
# and returns time first: `(B, (T + 1) // 2, d_model)`. 3,000 frames become 1,500 positions.
# Hidden cases: `T` from 1 to 3,000, `n_mels` 4 to 128, bfloat16 parameters, gradients.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `mel` (`device=mel.device`). **Dtype:** float32, or
# bfloat16 parameters with a bfloat16 `mel`; return `mel`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "conv_stem", "locked": false, "schema_version": 3, "solution": true, "task": false}
class WhisperConvStem(nn.Module):
    def __init__(self, n_mels: int, d_model: int):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv1d(n_mels, d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, kernel_size=3, stride=2, padding=1)
        ### END SOLUTION

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_conv_stem", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert WhisperConvStem(80, 8)(torch.randn(1, 80, 3000)).shape == (1, 1500, 8)
check("foundation.conv_stem.visible", WhisperConvStem)
### BEGIN HIDDEN TESTS
check("foundation.conv_stem", WhisperConvStem)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Sinusoidal positions (1 point)
#
# *Taught in the book:* [Whisper](../../book/06-clip-sam-whisper/whisper.md), section *The encoder: a convolutional stem, then a transformer*.
#
# Whisper's encoder adds fixed sinusoids: with `h = channels // 2` frequencies
# `inv_i = max_timescale ** (-i / (h - 1))`, `i = 0 .. h - 1` (note `h - 1`: the last frequency is
# exactly `1 / max_timescale`), angle `p * inv_i` at position `p`, and the output is two halves,
# `[sin(angles) | cos(angles)]`, shape `(length, channels)`, float32. Hidden cases: length 1 to
# 1,500, channels even from 4 to 512, `max_timescale` 100 or 10,000.
#
# **Device and dtype:** no tensor comes in (Python numbers only), so return a float32 tensor on the
# CPU, GPU or not.


# %% nbgrader={"grade": false, "grade_id": "sinusoids", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """(length, channels) float32 [sin | cos] positional encodings."""
    ### BEGIN SOLUTION
    half = channels // 2
    inv = torch.exp(-math.log(max_timescale) / (half - 1) * torch.arange(half, dtype=torch.float32))
    angles = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sinusoids", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
pos = sinusoids(3, 4)
assert torch.allclose(pos[0], torch.tensor([0.0, 0.0, 1.0, 1.0])), "position 0: sin 0 | cos 0"
check("foundation.sinusoids.visible", sinusoids)
### BEGIN HIDDEN TESTS
check("foundation.sinusoids", sinusoids)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. The decoder's task prompt (2 points)
#
# *Taught in the book:* [Whisper](../../book/06-clip-sam-whisper/whisper.md), section *One decoder, many tasks*.
#
# Whisper's decoder starts from special tokens (ids from `special`, e.g. `SPECIAL` or
# `SPECIAL_EN`):
#
# 1. if `previous` is non-empty (text of the preceding window): `<|startofprev|>` followed by
#    the **last** `448 // 2 - 1 = 223` of those ids;
# 2. `<|startoftranscript|>`;
# 3. for a multilingual model (`language` is a code such as `"en"`): `<|en|>`, then
#    `<|transcribe|>` or `<|translate|>` (from `task`); an English-only model (`language is
#    None`) has neither;
# 4. `<|notimestamps|>` unless `timestamps` is True.
#
# Return a list of ints, equal to openai-whisper's `DecodingTask` initial tokens. Hidden cases:
# 14 languages, both tasks, both timestamp settings, `previous` None, empty, or 1 to 250 ids.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "decoder_prompt", "locked": false, "schema_version": 3, "solution": true, "task": false}
def decoder_prompt(special, language, task, timestamps, previous=None):
    """Args: special (dict str -> int); language (str | None); task ("transcribe" | "translate");
    timestamps (bool); previous (list[int] | None). Returns: list[int]."""
    ### BEGIN SOLUTION
    tokens = []
    if previous:
        tokens = [special["<|startofprev|>"], *previous[-(448 // 2 - 1) :]]
    tokens.append(special["<|startoftranscript|>"])
    if language is not None:
        tokens += [special[f"<|{language}|>"], special[f"<|{task}|>"]]
    if not timestamps:
        tokens.append(special["<|notimestamps|>"])
    return tokens
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_decoder_prompt", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert decoder_prompt(SPECIAL, "en", "transcribe", False) == [50258, 50259, 50359, 50363]
assert decoder_prompt(SPECIAL_EN, None, "transcribe", False) == [50257, 50362]
check("foundation.decoder_prompt.visible", decoder_prompt)
### BEGIN HIDDEN TESTS
check("foundation.decoder_prompt", decoder_prompt)
### END HIDDEN TESTS
