"""Chapter 06-clip-sam-whisper: the references against independent oracles (never against
themselves): open_clip and Hugging Face for CLIP, Hugging Face SAM modules with copied weights,
openai-whisper for the front end, the encoder stem, the positions and the decoder prompt."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course import foundation as ref
from course.foundation import sam as sam_ref
from course.foundation import whisper as wh_ref


def _open_clip_module(name):
    """One standalone file of open_clip, loaded by path: the package's __init__ needs ftfy (absent)."""
    import importlib.util
    from importlib import metadata

    path = next(f for f in metadata.files("open_clip_torch") if str(f) == f"open_clip/{name}.py")
    spec = importlib.util.spec_from_file_location(f"_open_clip_{name}", path.locate())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- CLIP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("t", [math.log(1 / 0.07), -0.5, 5.0])
def test_clip_loss_matches_open_clip_and_hf(t):
    ClipLoss = _open_clip_module("loss").ClipLoss
    from transformers.models.clip.modeling_clip import image_text_contrastive_loss as hf_loss

    g = _gen(1)
    img, txt = torch.randn(7, 12, generator=g), torch.randn(7, 12, generator=g)
    log_scale = torch.tensor(t)
    scale = math.exp(min(max(t, 0.0), math.log(100)))  # CLIP clamps exp(t) to [1, 100]
    imn, txn = img / img.norm(dim=-1, keepdim=True), txt / txt.norm(dim=-1, keepdim=True)
    got = ref.clip_loss(img, txt, log_scale)
    torch.testing.assert_close(got, ClipLoss()(imn, txn, torch.tensor(scale)))
    torch.testing.assert_close(got, hf_loss(scale * txn @ imn.T))


def test_clip_loss_gradient_stops_at_the_clamp():
    x = torch.randn(4, 6, generator=_gen(2))
    t = torch.tensor(6.0, requires_grad=True)
    ref.clip_loss(x, x.flip(0), t).backward()
    assert t.grad == 0.0  # exp(6) > 100: clamped, no gradient to the log scale


class _TextList(list):
    """A 'tokenizer' output that stays text (the stub model looks prompts up)."""

    def to(self, device):
        return self


def test_zero_shot_matches_open_clip_classifier():
    """open_clip's build_zero_shot_classifier with a stub model that returns fixed embeddings."""
    build_zero_shot_classifier = _open_clip_module(
        "zero_shot_classifier"
    ).build_zero_shot_classifier

    g = _gen(3)
    classes, templates = ["cat", "dog", "bird"], ["a photo of a {}.", "a {}.", "art of a {}."]
    table = {p: torch.randn(16, generator=g) for p in ref.clip.prompts(classes, templates)}

    class Stub:
        def encode_text(self, texts, normalize=False):
            e = torch.stack([table[t] for t in texts])
            return e / e.norm(dim=-1, keepdim=True) if normalize else e

    weights = build_zero_shot_classifier(
        Stub(), _TextList, classes, templates, num_classes_per_batch=None, device="cpu"
    )  # (D, C)
    feats = torch.stack([table[p] for p in ref.clip.prompts(classes, templates)]).reshape(3, 3, 16)
    img = torch.randn(5, 16, generator=g)
    want = 100.0 * (img / img.norm(dim=-1, keepdim=True)) @ weights
    torch.testing.assert_close(ref.zero_shot_logits(img, feats, 100.0), want)


# --- SAM ------------------------------------------------------------------------------------------
def _hf_sam_prompt_encoder(c=32, image_size=64):
    from transformers import SamConfig
    from transformers.models.sam.modeling_sam import SamPromptEncoder

    cfg = SamConfig(
        vision_config={"output_channels": c, "num_pos_feats": c // 2, "image_size": image_size},
        prompt_encoder_config={"hidden_size": c, "image_size": image_size},
    )
    torch.manual_seed(0)
    return SamPromptEncoder(cfg).eval()


def _args_from(enc):
    pe = torch.cat([e.weight for e in enc.point_embed])
    return enc.shared_embedding.positional_embedding, pe, enc.not_a_point_embed.weight[0]


@pytest.mark.parametrize("with_box", [False, True])
def test_embed_prompts_matches_hf_prompt_encoder(with_box):
    enc = _hf_sam_prompt_encoder()
    g = _gen(4)
    points = torch.rand(2, 3, 2, generator=g) * 64
    labels = torch.tensor([[1, 0, -1], [0, 1, 1]])
    boxes = torch.tensor([[3.0, 5.0, 40.0, 50.0], [0.0, 0.0, 63.0, 63.0]]) if with_box else None
    with torch.no_grad():
        want, _ = enc(points[:, None], labels[:, None], boxes[:, None] if with_box else None, None)
        got = ref.embed_prompts(points, labels, boxes, (64, 64), *_args_from(enc))
    torch.testing.assert_close(got, want[:, 0])


def test_positional_encoding_divides_x_by_width():
    from transformers import SamVisionConfig
    from transformers.models.sam.modeling_sam import SamPositionalEmbedding

    torch.manual_seed(0)
    pe = SamPositionalEmbedding(SamVisionConfig(num_pos_feats=8))
    coords = torch.rand(1, 1, 5, 2, generator=_gen(5)) * torch.tensor([120.0, 40.0])
    with torch.no_grad():
        want = pe(coords, (40, 120))  # HF: input_shape = (H, W)
    got = sam_ref.positional_encoding(coords, (40, 120), pe.positional_embedding.detach())
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("skip_pe", [False, True])
def test_two_way_block_matches_hf(skip_pe):
    from transformers import SamMaskDecoderConfig
    from transformers.models.sam.modeling_sam import SamTwoWayAttentionBlock

    cfg = SamMaskDecoderConfig(hidden_size=32, num_attention_heads=4, mlp_dim=48)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    hf = SamTwoWayAttentionBlock(cfg, attention_downsample_rate=2, skip_first_layer_pe=skip_pe)
    ours = ref.TwoWayAttentionBlock(32, 4, 48, 2, skip_pe)
    ours.load_state_dict(hf.state_dict(), strict=True)
    g = _gen(6)
    q, k = torch.randn(2, 7, 32, generator=g), torch.randn(2, 16, 32, generator=g)
    qpe, kpe = torch.randn(2, 7, 32, generator=g), torch.randn(2, 16, 32, generator=g)
    with torch.no_grad():
        wq, wk, _ = hf(q[:, None], k[:, None], qpe[:, None], kpe[:, None], None)
        gq, gk = ours(q, k, qpe, kpe)
    torch.testing.assert_close(gq, wq[:, 0])
    torch.testing.assert_close(gk, wk[:, 0])


def test_sam_attention_matches_torch_mha_when_not_downsampled():
    torch.manual_seed(0)
    ours = ref.SamAttention(16, 4, 1)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(
            torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight])
        )
        mha.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        mha.out_proj.load_state_dict(ours.out_proj.state_dict())
        g = _gen(7)
        q, kv = torch.randn(3, 5, 16, generator=g), torch.randn(3, 9, 16, generator=g)
        torch.testing.assert_close(ours(q, kv, kv), mha(q, kv, kv, need_weights=False)[0])


def test_select_masks_matches_hf_mask_decoder_slices():
    """HF's decoder returns output 0 (single) or outputs 1..3 (multimask); SAM's predictor keeps
    the multimask output of highest predicted IoU."""
    from transformers import SamMaskDecoderConfig
    from transformers.models.sam.modeling_sam import SamMaskDecoder

    cfg = SamMaskDecoderConfig(
        hidden_size=32, num_attention_heads=4, mlp_dim=48, iou_head_hidden_dim=32
    )
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    dec = SamMaskDecoder(cfg).eval()
    g = _gen(8)
    image = torch.randn(2, 32, 8, 8, generator=g)
    image_pe = torch.randn(2, 32, 8, 8, generator=g)
    sparse = torch.randn(2, 1, 3, 32, generator=g)
    dense = torch.randn(2, 32, 8, 8, generator=g)
    with torch.no_grad():
        m1, s1 = dec(image, image_pe, sparse, dense, multimask_output=False)
        m3, s3 = dec(image, image_pe, sparse, dense, multimask_output=True)
    masks, iou = torch.cat([m1, m3], 2)[:, 0], torch.cat([s1, s3], 2)[:, 0]
    mask, score, index = ref.select_masks(masks, iou, True)
    best = s3[:, 0].argmax(-1)
    torch.testing.assert_close(score, s3[:, 0].gather(1, best[:, None])[:, 0])
    assert torch.equal(mask, m3[torch.arange(2), 0, best] > 0.0)
    assert torch.equal(index, best + 1)
    mask, score, index = ref.select_masks(masks, iou, False)
    assert torch.equal(mask, m1[:, 0, 0] > 0) and torch.equal(
        index, torch.zeros(2, dtype=torch.long)
    )


# --- Whisper --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_mels,seconds", [(80, 30.0), (128, 1.3), (80, 0.05)])
def test_log_mel_matches_openai_whisper(n_mels, seconds):
    import whisper

    n = int(seconds * 16000)
    t = torch.arange(n) / 16000
    audio = (
        0.3 * torch.sin(2 * math.pi * 440 * t) + 0.05 * torch.randn(n, generator=_gen(9))
    ).float()
    want = whisper.log_mel_spectrogram(audio, n_mels=n_mels)
    got = ref.log_mel_spectrogram(audio, wh_ref.mel_filters(n_mels))
    assert got.shape == (n_mels, n // 160)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_log_mel_stft_matches_scipy():
    """The power spectrum, computed independently with scipy.signal.stft (float64)."""
    from scipy.signal import stft

    x = np.random.default_rng(0).standard_normal(4000)
    xp = np.pad(x, 200, mode="reflect")
    _, _, z = stft(xp, nperseg=400, noverlap=240, window="hann", boundary=None, padded=False)
    power = np.abs(z * 200.0) ** 2  # scipy divides by sum(window) = 200
    assert power.shape == (201, 4000 // 160 + 1)  # centred frames: one more than T // 160
    filters = wh_ref.mel_filters(80).double()
    log = np.log10(np.clip(filters.numpy() @ power[:, :-1], 1e-10, None))  # last frame dropped
    log = np.maximum(log, log.max() - 8.0)
    want = torch.from_numpy((log + 4.0) / 4.0)
    got = ref.log_mel_spectrogram(torch.from_numpy(x), filters)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filter_bank_matches_openai_whisper_assets(n_mels):
    """Our Slaney mel filter bank (written from the formulas) equals the one whisper ships."""
    torch.testing.assert_close(
        wh_ref.mel_filter_bank(n_mels).float(), wh_ref.mel_filters(n_mels), rtol=1e-5, atol=1e-7
    )


def test_conv_stem_and_sinusoids_match_openai_whisper_encoder():
    from whisper.model import AudioEncoder

    torch.manual_seed(0)
    enc = AudioEncoder(n_mels=80, n_ctx=50, n_state=32, n_head=4, n_layer=0)
    enc.ln_post = torch.nn.Identity()
    stem = ref.WhisperConvStem(80, 32)
    stem.load_state_dict({k: v for k, v in enc.state_dict().items() if k.startswith("conv")})
    mel = torch.randn(2, 80, 100, generator=_gen(10))
    with torch.no_grad():
        want = enc(mel)  # gelu(conv2(gelu(conv1(x)))) + sinusoids
        torch.testing.assert_close(stem(mel) + ref.sinusoids(50, 32), want)
    assert stem(mel[..., : 3000 // 30]).shape == (2, 50, 32)


def test_conv_stem_matches_hf_whisper_encoder_conv_layers():
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    cfg = WhisperConfig(
        d_model=16,
        encoder_layers=1,
        encoder_attention_heads=2,
        num_mel_bins=8,
        max_source_positions=6,
        encoder_ffn_dim=16,
    )
    hf = WhisperEncoder(cfg).eval()
    stem = ref.WhisperConvStem(8, 16)
    stem.load_state_dict({k: v for k, v in hf.state_dict().items() if k.startswith("conv")})
    mel = torch.randn(1, 8, 12, generator=_gen(11))
    with torch.no_grad():
        x = torch.nn.functional.gelu(hf.conv2(torch.nn.functional.gelu(hf.conv1(mel))))
    torch.testing.assert_close(stem(mel), x.permute(0, 2, 1))


@pytest.mark.parametrize("length,channels", [(1500, 384), (1, 4), (7, 10)])
def test_sinusoids_match_openai_whisper(length, channels):
    from whisper.model import sinusoids

    torch.testing.assert_close(ref.sinusoids(length, channels), sinusoids(length, channels).float())
    torch.testing.assert_close(
        wh_ref.sinusoids64(length, channels),
        sinusoids(length, channels).double(),
        rtol=0,
        atol=2e-4,
    )


def _decoding_task(multilingual, **options):
    from whisper.decoding import DecodingOptions, DecodingTask
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(80, 10, 8, 2, 1, 51865 if multilingual else 51864, 448, 8, 2, 1)
    return DecodingTask(Whisper(dims), DecodingOptions(**options))


@pytest.mark.parametrize(
    "multilingual,language,task,timestamps,previous",
    [
        (True, "en", "transcribe", False, None),
        (True, "zh", "translate", True, None),
        (True, "de", "transcribe", False, list(range(300))),
        (False, None, "transcribe", False, [5, 6, 7]),
        (False, None, "transcribe", True, None),
    ],
)
def test_decoder_prompt_matches_openai_whisper(multilingual, language, task, timestamps, previous):
    want = _decoding_task(
        multilingual,
        language=language,
        task=task,
        without_timestamps=not timestamps,
        prompt=previous,
        fp16=False,
    )._get_initial_tokens()
    special = wh_ref.special_tokens(multilingual)
    assert ref.decoder_prompt(special, language, task, timestamps, previous) == list(want)
