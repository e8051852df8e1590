import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from infogan.metrics import codes as metrics


def test_hungarian_matching_recovers_permuted_labels():
    labels = np.repeat(np.arange(5), 20)
    perm = np.array([3, 0, 4, 1, 2])
    pred = perm[labels]  # category = permuted label
    out = metrics.categorical_accuracy(pred, labels)
    assert out["categorical_accuracy"] == 1.0
    assert out["matching"] == {int(perm[k]): k for k in range(5)}


def test_hungarian_is_one_to_one():
    # two categories both mostly "label 0": only one may take it
    pred = np.array([0, 0, 0, 1, 1, 1])
    labels = np.array([0, 0, 1, 0, 0, 1])
    out = metrics.categorical_accuracy(pred, labels)
    assert sorted(out["matching"].values()) == [0, 1]
    assert out["categorical_accuracy"] == pytest.approx(3 / 6)


def test_nmi_and_ari_hand_known_values():
    assert metrics.nmi([0, 0, 1, 1], [1, 1, 0, 0])["nmi"] == pytest.approx(1.0)
    assert metrics.ari([0, 0, 1, 1], [1, 1, 0, 0])["ari"] == pytest.approx(1.0)
    assert metrics.nmi([0, 0, 1, 1], [0, 1, 0, 1])["nmi"] == pytest.approx(0.0, abs=1e-12)
    assert metrics.ari([0, 0, 1, 1], [0, 1, 0, 1])["ari"] == pytest.approx(-0.5)
    # refinement: MI = ln 2, H = ln 2 and 1.5 ln 2 -> NMI = 2 / 2.5 = 0.8; ARI = (1 - 1/3) / (1.5 - 1/3)
    assert metrics.nmi([0, 0, 1, 1], [0, 0, 1, 2])["nmi"] == pytest.approx(0.8)
    assert metrics.ari([0, 0, 1, 1], [0, 0, 1, 2])["ari"] == pytest.approx((1 - 1 / 3) / (1.5 - 1 / 3))


def test_q_real_information_extremes():
    confident = torch.eye(4).repeat(5, 1)
    out = metrics.q_real_information(confident)
    assert out["q_real_mi"] == pytest.approx(math.log(4), abs=1e-6) and out["q_confidence"] == pytest.approx(1.0)
    blind = torch.full((20, 4), 0.25)
    assert metrics.q_real_information(blind)["q_real_mi"] == pytest.approx(0.0, abs=1e-6)


def stroke(angle_deg: float, width: int = 3, size: int = 28) -> torch.Tensor:
    """A white line through the centre, tilted angle_deg from vertical (positive = top to the right)."""
    img = Image.new("L", (size, size), 0)
    half, t = 9, math.radians(angle_deg)
    dx, dy = half * math.sin(t), half * math.cos(t)
    c = size / 2
    ImageDraw.Draw(img).line([(c - dx, c + dy), (c + dx, c - dy)], fill=255, width=width)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1).view(1, 1, size, size)


def test_slant_measure_on_lines_at_known_angles():
    angles = [-30, -15, 0, 15, 30]
    slant, _ = metrics.slant_and_ink(torch.cat([stroke(a) for a in angles]))
    assert slant.tolist() == sorted(slant.tolist())  # monotone in the true angle
    assert abs(slant[2]) < 2  # upright line reads about 0
    for measured, true in zip(slant.tolist(), angles):
        assert measured == pytest.approx(true, abs=6)


def test_ink_measure_grows_with_stroke_width():
    _, ink = metrics.slant_and_ink(torch.cat([stroke(10, width=w) for w in (1, 2, 4, 6)]))
    assert ink.tolist() == sorted(ink.tolist()) and ink[-1] > 3 * ink[0]
