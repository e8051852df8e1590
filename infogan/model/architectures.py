"""The architectures: `ARCHS` is the one table of them (adding one is one entry there plus its two builders:
G as an nn.Sequential, D/Q as a trunk with its feature size).

- paper-mnist: InfoGAN paper, appendix C (MNIST; also 3D Faces, whose tables are the same networks at
  32x32). D and Q share the conv trunk and the FC-1024 layer; D's head is one linear unit, Q's head is
  FC-128 + BN + lReLU followed by the code outputs.
- seed-mnist: the seed's MNIST model: the paper's G, a lighter D whose single last linear layer emits
  the D logit and all Q outputs together (everything is shared).
- seed-cifar10: the seed's CIFAR-10 model (4x4 -> 32x32 generator; three-conv D with dropout).
- paper-svhn: appendix C's SVHN networks (also CelebA's): G from 2x2x448 through four 4x4/2 upconvs; D three
  4x4/2 convs, Q's head FC-128 + BN + lReLU.
- paper-chairs: appendix C's 3D Chairs networks (64x64): D five 4x4 convs (64, 128, 256 at stride 2, then
  256, 256 at stride 1) and FC-1024; G mirrors it from FC-1024, FC 8x8x256.
- cr-dsprites: InfoGAN-CR's dSprites networks (Lin et al. 2020), small and balanced: G FC 128, FC 4x4x64,
  then 4x4/2 upconvs (64, 32, 32 channels as the side allows) to the image; D/Q four 4x4/2 convs of 32, 32,
  64, 64 channels without BatchNorm, FC 128; Q's head FC 128 + lReLU. Meant with --spectral-norm.

Sizes follow the image shape in the config (sides must divide by `ARCHS[arch].divisor`), and the code layout
follows the config's `LatentSpec`, so every architecture serves any number of codes. Images are in [-1, 1]
(tanh; where the paper's G ends in a sigmoid, tanh is the same curve rescaled to our range).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from infogan.model.latent import LatentSpec, QCodes

LRELU_SLOPE = 0.1  # paper appendix C (the official code uses 0.01; the paper and the seed say 0.1)


@dataclass
class DOutput:
    logit: torch.Tensor  # [N] real/fake logit (positive = real)
    q: QCodes  # Q's outputs per code
    overcluster: torch.Tensor | None = None  # [N, K] logits of the over-clustering head (--iic-overcluster)

    def chunk(self, k: int) -> list[DOutput]:
        """The outputs of k equal batches concatenated along dim 0 (Discriminator's `views`), one per batch."""
        over = [None] * k if self.overcluster is None else self.overcluster.chunk(k)
        return [DOutput(logit, q, o) for logit, q, o in zip(self.logit.chunk(k), self.q.chunk(k), over)]

    @property
    def cat_logits(self) -> list[torch.Tensor]:
        return self.q.cat_logits

    @property
    def cont_mean(self) -> torch.Tensor:
        return self.q.cont_mean

    @property
    def cont_logstd(self) -> torch.Tensor | None:
        return self.q.cont_logstd


def _deconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    # 4x4, stride 2, padding 1: doubles H and W exactly
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)


def conv(cin: int, cout: int) -> nn.Conv2d:
    # 4x4, stride 2, padding 1: halves H and W exactly
    return nn.Conv2d(cin, cout, 4, stride=2, padding=1)


def _same_conv(cin: int, cout: int) -> nn.Sequential:
    # 4x4, stride 1, 'same' size: pad 1 before and 2 after, as TensorFlow does for even kernels. Also stands
    # for the paper's stride-1 "upconv": a stride-1 transposed convolution is a convolution.
    return nn.Sequential(nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(cin, cout, 4))


def lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(LRELU_SLOPE)


def q_head(features: int, q_dim: int, batch_norm: bool = True) -> nn.Sequential:
    # the paper's Q head: FC-128 + BN + lReLU, then every code's outputs in one linear layer
    norm = [nn.BatchNorm1d(128)] if batch_norm else []
    return nn.Sequential(nn.Linear(features, 128), *norm, lrelu(), nn.Linear(128, q_dim))


@dataclass
class _Trunk:
    net: nn.Sequential  # [N, C, H, W] -> [N, features]
    features: int
    separate_q_head: bool  # False: one linear layer emits the D logit and every Q output
    q_head_batch_norm: bool = True  # the separate Q head's BN (InfoGAN-CR's D has no BN anywhere)


# ---------------------------------------------------------------------------------------------- the architectures
def _paper_mnist_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(spec.input_dim, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, 128 * (h // 4) * (w // 4)),
        nn.BatchNorm1d(128 * (h // 4) * (w // 4)),
        nn.ReLU(),
        nn.Unflatten(1, (128, h // 4, w // 4)),  # [N, 128, H/4, W/4]
        _deconv(128, 64),
        nn.BatchNorm2d(64),
        nn.ReLU(),  # [N, 64, H/2, W/2]
        _deconv(64, c),
        nn.Tanh(),  # [N, C, H, W]
    )


def _paper_mnist_d(c: int, h: int, w: int) -> _Trunk:
    trunk = nn.Sequential(
        conv(c, 64),
        lrelu(),  # [N, 64, H/2, W/2] (no BN on the first layer)
        conv(64, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H/4, W/4]
        nn.Flatten(),
        nn.Linear(128 * (h // 4) * (w // 4), 1024),
        nn.BatchNorm1d(1024),
        lrelu(),
    )  # [N, 1024]
    return _Trunk(trunk, 1024, True)


def _seed_mnist_d(c: int, h: int, w: int) -> _Trunk:
    trunk = nn.Sequential(
        conv(c, 64),
        nn.BatchNorm2d(64),
        lrelu(),  # [N, 64, H/2, W/2]
        conv(64, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H/4, W/4]
        nn.Flatten(),
        nn.Linear(128 * (h // 4) * (w // 4), 128),
        nn.BatchNorm1d(128),
        lrelu(),
    )  # [N, 128]
    return _Trunk(trunk, 128, False)


def _seed_cifar10_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    h8, w8 = h // 8, w // 8
    return nn.Sequential(
        nn.Linear(spec.input_dim, 256 * h8 * w8),
        nn.BatchNorm1d(256 * h8 * w8),
        lrelu(),
        nn.Unflatten(1, (256, h8, w8)),  # [N, 256, H/8, W/8]
        _deconv(256, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H/4, W/4]
        _deconv(128, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H/2, W/2]
        _deconv(128, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H, W]
        nn.ZeroPad2d((1, 2, 1, 2)),
        nn.Conv2d(128, c, 4),
        nn.Tanh(),  # 4x4 'same' conv: [N, C, H, W]
    )


def _seed_cifar10_d(c: int, h: int, w: int) -> _Trunk:
    h8, w8 = h // 8, w // 8
    trunk = nn.Sequential(
        conv(c, 64),
        nn.BatchNorm2d(64),
        lrelu(),  # [N, 64, H/2, W/2]
        conv(64, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H/4, W/4]
        conv(128, 256),
        nn.BatchNorm2d(256),
        lrelu(),  # [N, 256, H/8, W/8]
        nn.Flatten(),
        nn.Dropout(0.4),
    )  # [N, 256*H/8*W/8]
    return _Trunk(trunk, 256 * h8 * w8, False)


def _paper_svhn_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    h16, w16 = h // 16, w // 16
    return nn.Sequential(
        nn.Linear(spec.input_dim, 448 * h16 * w16),
        nn.BatchNorm1d(448 * h16 * w16),
        nn.ReLU(),
        nn.Unflatten(1, (448, h16, w16)),  # [N, 448, H/16, W/16]: 2x2 at 32x32
        _deconv(448, 256),
        nn.BatchNorm2d(256),
        nn.ReLU(),  # [N, 256, H/8, W/8]
        _deconv(256, 128),
        nn.ReLU(),  # [N, 128, H/4, W/4] (no BN here in the appendix's table)
        _deconv(128, 64),
        nn.ReLU(),  # [N, 64, H/2, W/2]
        _deconv(64, c),
        nn.Tanh(),  # [N, C, H, W]
    )


def _paper_svhn_d(c: int, h: int, w: int) -> _Trunk:
    trunk = nn.Sequential(
        conv(c, 64),
        lrelu(),  # [N, 64, H/2, W/2]
        conv(64, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H/4, W/4]
        conv(128, 256),
        nn.BatchNorm2d(256),
        lrelu(),  # [N, 256, H/8, W/8]
        nn.Flatten(),
    )  # [N, 256*H/8*W/8]; D's head is one FC unit on it, Q's head FC-128 + BN + lReLU
    return _Trunk(trunk, 256 * (h // 8) * (w // 8), True)


def _paper_chairs_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    h8, w8 = h // 8, w // 8
    return nn.Sequential(
        nn.Linear(spec.input_dim, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, 256 * h8 * w8),
        nn.BatchNorm1d(256 * h8 * w8),
        nn.ReLU(),
        nn.Unflatten(1, (256, h8, w8)),  # [N, 256, H/8, W/8]: 8x8 at 64x64
        _same_conv(256, 256),
        nn.BatchNorm2d(256),
        nn.ReLU(),  # [N, 256, H/8, W/8]
        _same_conv(256, 256),
        nn.BatchNorm2d(256),
        nn.ReLU(),  # [N, 256, H/8, W/8]
        _deconv(256, 128),
        nn.BatchNorm2d(128),
        nn.ReLU(),  # [N, 128, H/4, W/4]
        _deconv(128, 64),
        nn.BatchNorm2d(64),
        nn.ReLU(),  # [N, 64, H/2, W/2]
        _deconv(64, c),
        nn.Tanh(),  # [N, C, H, W]
    )


def _paper_chairs_d(c: int, h: int, w: int) -> _Trunk:
    h8, w8 = h // 8, w // 8
    trunk = nn.Sequential(
        conv(c, 64),
        lrelu(),  # [N, 64, H/2, W/2]
        conv(64, 128),
        nn.BatchNorm2d(128),
        lrelu(),  # [N, 128, H/4, W/4]
        conv(128, 256),
        nn.BatchNorm2d(256),
        lrelu(),  # [N, 256, H/8, W/8]
        _same_conv(256, 256),
        nn.BatchNorm2d(256),
        lrelu(),  # [N, 256, H/8, W/8]
        _same_conv(256, 256),
        nn.BatchNorm2d(256),
        lrelu(),  # [N, 256, H/8, W/8]
        nn.Flatten(),
        nn.Linear(256 * h8 * w8, 1024),
        nn.BatchNorm1d(1024),
        lrelu(),
    )  # [N, 1024]
    return _Trunk(trunk, 1024, True)


def _cr_dsprites_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    ups = (h // 4).bit_length() - 1  # 4x4 -> H x W in `ups` doublings (H / 4 a power of two: divisor 8)
    widths = [64, 64, 32, 32][:ups]  # FC 4x4x64, then Lin et al.'s upconvs 64, 32, 32 (the last to C channels)
    layers = []
    for cin, cout in zip(widths[:-1], widths[1:]):
        layers += [_deconv(cin, cout), lrelu(), nn.BatchNorm2d(cout)]
    return nn.Sequential(
        nn.Linear(spec.input_dim, 128),
        nn.ReLU(),
        nn.BatchNorm1d(128),
        nn.Linear(128, 64 * (h // 2**ups) * (w // 2**ups)),
        nn.ReLU(),
        nn.BatchNorm1d(64 * (h // 2**ups) * (w // 2**ups)),
        nn.Unflatten(1, (64, h // 2**ups, w // 2**ups)),  # [N, 64, 4, 4] for square images
        *layers,  # [N, widths[-1], H/2, W/2]
        _deconv(widths[-1], c),
        nn.Tanh(),  # [N, C, H, W]
    )


def _cr_dsprites_d(c: int, h: int, w: int) -> _Trunk:
    layers, cin = [], c
    for cout in (32, 32, 64, 64):  # each halves the image while it is at least 8 pixels on a side
        if min(h, w) < 8:
            break
        layers += [conv(cin, cout), lrelu()]
        cin, h, w = cout, h // 2, w // 2
    trunk = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * h * w, 128), lrelu())  # [N, 128]
    return _Trunk(trunk, 128, True, q_head_batch_norm=False)


@dataclass(frozen=True)
class Arch:
    """One architecture: its two builders and the number the image sides must divide by (every
    halving/doubling layer needs it)."""

    generator: Callable[[LatentSpec, int, int, int], nn.Sequential]  # (spec, C, H, W) -> [N, in] -> [N, C, H, W]
    trunk: Callable[[int, int, int], _Trunk]  # (C, H, W) -> the D/Q trunk
    divisor: int
    description: str


# The one table of architectures (`--arch`); config validates names and image sides against it.
ARCHS: dict[str, Arch] = {
    "paper-mnist": Arch(_paper_mnist_g, _paper_mnist_d, 4, "InfoGAN paper, MNIST (appendix C)"),
    "seed-mnist": Arch(_paper_mnist_g, _seed_mnist_d, 4, "the seed's MNIST model (the paper's G, a lighter D)"),
    "seed-cifar10": Arch(_seed_cifar10_g, _seed_cifar10_d, 8, "the seed's CIFAR-10 model"),
    "paper-svhn": Arch(_paper_svhn_g, _paper_svhn_d, 16, "InfoGAN paper, SVHN and CelebA"),
    "paper-chairs": Arch(_paper_chairs_g, _paper_chairs_d, 8, "InfoGAN paper, 3D Chairs (64x64)"),
    "cr-dsprites": Arch(_cr_dsprites_g, _cr_dsprites_d, 8, "InfoGAN-CR's small dSprites networks"),
}


def arch_of(name: str) -> Arch:
    if name not in ARCHS:
        raise ValueError(f"unknown arch {name!r}")
    return ARCHS[name]
