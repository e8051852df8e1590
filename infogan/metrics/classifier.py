"""An independent judge of generated images: a small CNN trained on a labelled data set, offline.

Q's accuracy says how well Q reads the codes back from real images; nothing in the GAN judges what G
draws. `infogan classifier train` fits this classifier on the data set's labels (never used by the GAN);
`infogan evaluate --classifier` then scores a run's generated images with it:

- purity: per value of categorical code 1, the fraction of its images that the classifier puts in the
  label matched to that value (one-to-one, Hungarian on the counts, as the codes' accuracy is matched);
- mode count: labels the classifier finds among the generated images, each needing at least a tenth of
  its fair share (N / labels), so that a few stray images do not count as a mode (VEEGAN/PacGAN count
  modes this way with a threshold);
- classifier score: the Inception Score's formula on this classifier, exp E_x KL(p(y|x) || p(y)) (at most
  the number of labels);
- fid_classifier: the Fréchet distance between generated and real test images in the classifier's
  128-unit penultimate layer. Not Inception FID, and not comparable with published FIDs.

The classifier is cached as DATA_DIR/classifiers/<data set>.pt (a plain dict, loaded with
weights_only=True) with its test accuracy.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from scipy.optimize import linear_sum_assignment
from torch import nn

from infogan.data.datasets import evaluation_split, load_dataset
from infogan.data.download import default_data_dir
from infogan.data.images import ImageData, batched, to_unit_range
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes

FORMAT = 2  # 2: a 4x4 pooled map before the feature layer (format 1 pooled to 1x1; it reached 0.92 on MNIST)
POOLED = 4  # side of the pooled feature map: spatial layout kept for any image side >= 4
FEATURES = 128
MODE_SHARE = 0.1  # a label counts as a covered mode with at least this fraction of its fair share of images


class Classifier(nn.Module):
    """Two conv blocks (32, 64 channels), average pooling to a 4x4 map, a 128-unit feature layer, the logits.
    The 4x4 map keeps where strokes are: pooled to 1x1, the same network classified held-out MNIST digits at
    0.92 (where a digit's parts sit is what tells a 6 from a 9)."""

    def __init__(self, channels: int, classes: int):
        super().__init__()

        def block(cin, cout):
            return [
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        self.trunk = nn.Sequential(
            *block(channels, 32),
            *block(32, 64),
            nn.AdaptiveAvgPool2d(POOLED),
            nn.Flatten(),
            nn.Linear(64 * POOLED * POOLED, FEATURES),
            nn.ReLU(),
        )  # [N, C, H, W] -> [N, 128]
        self.head = nn.Linear(FEATURES, classes)  # [N, 128] -> [N, classes]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.trunk(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(images))


def default_path(data: ImageData | str, data_dir: str | None) -> Path:
    name = data if isinstance(data, str) else data.name
    return (Path(data_dir).expanduser() if data_dir else default_data_dir()) / "classifiers" / f"{name}.pt"


def accuracy(model: Classifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    device = next(model.parameters()).device
    return float((batched(model, images, device=device).argmax(1) == labels).float().mean())


def train_classifier(
    dataset: str,
    data_dir: str | None = None,
    epochs: int = 5,
    batch_size: int = 128,
    seed: int = 0,
    out: str | None = None,
    log=print,
    test_dataset: str | None = None,
    device: str = "cpu",
) -> tuple[Path, float]:
    """Fit the classifier on the data set's training split and first label; test accuracy on `test_dataset`
    if given, else the data set's evaluation split (mnist/cifar10/svhn: the official test split; others:
    the training images themselves, said in the log as "train accuracy"). Batches go to `device` one at a
    time; the saved weights are on the CPU whatever it trained on."""
    train = load_dataset(dataset, data_dir, "train")
    if train.labels is None:
        raise UsageError(f"{dataset} has no labels to train a classifier on (npz: needs a y array)")
    if test_dataset:
        split, test = "held-out", load_dataset(test_dataset, data_dir, evaluation_split(test_dataset))
        if test.labels is None or test.shape != train.shape:
            raise UsageError(f"--test-dataset {test_dataset} needs labels and images of shape {list(train.shape)}")
    else:
        split = evaluation_split(dataset)
        test = load_dataset(dataset, data_dir, split) if split != "train" else train
    classes = int(max(train.labels.max(), test.labels.max())) + 1
    batch_size = min(batch_size, len(train))  # a data set smaller than one batch is one batch
    torch.manual_seed(seed)
    model = Classifier(train.shape[0], classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # cosine decay to 0 over the whole run: at a constant rate the held-out accuracy swings from one epoch to
    # the next (0.92-0.98 on 9,000 MNIST digits), and the last epoch's model is the one saved
    steps_per_epoch = len(train) // batch_size
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch))
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        started, order = time.perf_counter(), torch.randperm(len(train), generator=gen)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            pick = order[i : i + batch_size]
            loss = F.cross_entropy(model(to_unit_range(train.images[pick].to(device))), train.labels[pick].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        log(
            f"classifier epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, {split} accuracy "
            f"{accuracy(model, test.images, test.labels):.4f} ({time.perf_counter() - started:.0f} s)"
        )
    test_accuracy = accuracy(model, test.images, test.labels)
    path = Path(out) if out else default_path(train, data_dir)
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "channels": train.shape[0],
        "image_shape": list(train.shape),
        "classes": classes,
        "dataset": dataset,
        "label": train.label_name,
        "test_split": split,
        "test_accuracy": test_accuracy,
    }
    import io

    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())
    return path, test_accuracy


def load_classifier(path: str | Path) -> tuple[Classifier, dict]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no classifier at {path}: train one with `infogan classifier train --dataset ...`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickled objects (refused), damaged files
        raise UsageError(f"cannot load classifier {path}: {str(exc).strip().splitlines()[0][:160]}") from None
    fields = {"state_dict": dict, "channels": int, "classes": int, "image_shape": list, "dataset": str}
    if isinstance(payload, dict) and type(payload.get("format")) is int and 0 < payload["format"] < FORMAT:
        raise UsageError(
            f"{path} is a classifier of an earlier format ({payload['format']}, this version reads "
            f"{FORMAT}): train it again with `infogan classifier train --dataset ...`"
        )
    if (
        not isinstance(payload, dict)
        or payload.get("format") != FORMAT
        or not all(isinstance(payload.get(k), kind) for k, kind in fields.items())
        or payload["channels"] not in (1, 3)
        or not 2 <= payload["classes"] <= 10_000
    ):
        raise UsageError(f"{path} is not an infogan classifier (train one with `infogan classifier train`)")
    model = Classifier(payload["channels"], payload["classes"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise UsageError(f"classifier {path} is damaged ({str(exc).splitlines()[0][:160]})") from None
    return model.eval(), payload


# ---------------------------------------------------------------------------------------------- scores
def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets [N, D]."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # a singular product (dead features) is handled below, not warned about
        warnings.simplefilter("ignore")
        root = linalg.sqrtm(s_a @ s_b)
        if not np.isfinite(root).all():  # near-singular product: regularise as the FID reference code does
            eps = np.eye(len(s_a)) * 1e-6
            root = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root.real))


def classifier_scores(
    model: Classifier, generated: torch.Tensor, codes: torch.Tensor | None, real: torch.Tensor
) -> dict:
    """Scores of generated uint8 images [N, C, H, W]; `codes` [N] is categorical code 1's value of each
    (None without a categorical code: no purity); `real` are held-out real images for fid_classifier."""
    model.eval()
    device = next(model.parameters()).device
    probs = batched(lambda x: F.softmax(model(x), 1), generated, device=device).double()  # [N, classes]
    predicted = probs.argmax(1).numpy()
    classes = probs.shape[1]
    counts = np.bincount(predicted, minlength=classes)
    marginal = probs.mean(0, keepdim=True)
    kl = (probs * (probs.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1)
    out = {
        "classifier_samples": len(generated),
        "mode_count": int((counts >= MODE_SHARE * len(generated) / classes).sum()),
        "modes_possible": classes,
        "label_histogram": counts.tolist(),
        "classifier_score": float(torch.exp(kl.mean())),
        "fid_classifier": frechet_distance(
            batched(model.features, generated, device=device).double().numpy(),
            batched(model.features, real, device=device).double().numpy(),
        ),
    }
    if codes is not None:
        values = int(codes.max()) + 1
        table = np.zeros((values, classes), dtype=np.int64)
        np.add.at(table, (codes.numpy(), predicted), 1)
        rows, cols = linear_sum_assignment(-table)  # one label per code value, most images agreeing
        matched = dict(zip(rows.tolist(), cols.tolist()))
        per_value = [
            float(table[v, matched[v]] / max(1, table[v].sum())) if v in matched else 0.0 for v in range(values)
        ]
        out.update(
            purity=float(np.mean(per_value)),
            purity_per_category=per_value,
            matched_label={str(v): int(label) for v, label in matched.items()},
        )
    return out
