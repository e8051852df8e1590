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


# ---------------------------------------------------------------------------------------------- the codes' measure
def glyph(angle_deg: float, bar: int, size: int = 28) -> torch.Tensor:
    """A digit-like glyph [1, 1, size, size] in [-1, 1]: a stroke tilted angle_deg from vertical and a
    horizontal bar at row `bar` (a 7, a 4 or a 1 with a foot, by where the bar sits), two pixels wide."""
    img = Image.new("L", (size, size), 0)
    t, c = math.radians(angle_deg), size / 2
    dx, dy = 9 * math.sin(t), 9 * math.cos(t)
    draw = ImageDraw.Draw(img)
    draw.line([(c - dx, c + dy), (c + dx, c - dy)], fill=255, width=2)
    draw.line([(c - 6 + (bar - c) * -math.tan(t), bar), (c + 2 + (bar - c) * -math.tan(t), bar)], fill=255, width=2)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1).view(1, 1, size, size)


class HandMadeGenerator(torch.nn.Module):
    """A 'generator' whose codes are known: the noise picks a glyph with its own slant and shape, continuous
    code 1 only shears it, code 2 only thickens (> 0) or thins (< 0) its strokes, code 3 does nothing."""

    def __init__(self):
        super().__init__()
        from infogan.model.latent import LatentSpec

        self.spec = LatentSpec(noise_dim=2, categorical=(10,), continuous=3)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # where generate() looks for the device
        angles, bars = np.linspace(-20, 25, 8), (6, 14, 22)
        self.glyphs = torch.cat([glyph(a, b) for a in angles for b in bars])  # [24, 1, 28, 28]

    def forward(self, vec: torch.Tensor) -> torch.Tensor:
        from infogan.data.augment import sheared, warp

        z, cont = vec[:, :2], vec[:, -3:]
        pick = ((z[:, 0] + 1) / 2 * len(self.glyphs)).long().clamp(0, len(self.glyphs) - 1)
        images = self.glyphs[pick]
        identity = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(len(vec), 2, 3)
        images = warp(images, sheared(identity, 0.25 * cont[:, 0]))  # code 1: shear up to 0.5 at the range's ends
        t = (cont[:, 1] / 2).view(-1, 1, 1, 1)  # code 2: up to a full 3x3 dilation or erosion
        dilated = torch.nn.functional.max_pool2d(images, 3, stride=1, padding=1)
        eroded = -torch.nn.functional.max_pool2d(-images, 3, stride=1, padding=1)
        return images + t.clamp_min(0) * (dilated - images) + (-t).clamp_min(0) * (eroded - images)


def test_continuous_effects_read_a_shear_as_slant_a_stroke_as_ink_and_nothing_as_nothing():
    """The measure behind 'pure' and 'whole' (benchmarks/quality.py) on codes whose effect is known: a pure
    shear reads slant ~1 and ink ~0, a pure stroke change ink ~1 and slant ~0, a dead code 0 and 0.

    Thickening a slanted stroke widens its ink vertically too, which lowers the moment-based slant a little:
    a pure width code reads |slant| of about 0.1-0.3 (0.27 on real MNIST digits), under the 0.3 of 'pure'."""
    gen = HandMadeGenerator()
    effects = metrics.continuous_effects(gen.spec, 1, gen)["continuous_effects"]
    shear, stroke, dead = effects
    assert shear["slant_spearman"] > 0.9 and abs(shear["ink_spearman"]) < 0.3, shear
    assert shear["slant_degrees_per_unit"] > 5, shear  # x moves right with y up: the top leans right
    assert stroke["ink_spearman"] > 0.9 and abs(stroke["slant_spearman"]) < 0.3, stroke
    assert dead["slant_spearman"] == dead["ink_spearman"] == 0.0, dead
