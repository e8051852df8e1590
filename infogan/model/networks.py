"""Generator and discriminator/Q networks: `ARCHS` is the one table of architectures (adding one is one
entry there plus its two builders).

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
Module names (`net`, `trunk`, `d_head`, `q_head`) are part of the checkpoint format: keep them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from infogan.errors import UsageError
from infogan.model.latent import LatentSpec, QCodes

if TYPE_CHECKING:  # config reads ARCHS from here; at run time this module needs nothing of config's
    from infogan.config import TrainConfig

LRELU_SLOPE = 0.1  # paper appendix C (the official code uses 0.01; the paper and the seed say 0.1)


@dataclass
class DOutput:
    logit: torch.Tensor  # [N] real/fake logit (positive = real)
    q: QCodes  # Q's outputs per code

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


def _conv(cin: int, cout: int) -> nn.Conv2d:
    # 4x4, stride 2, padding 1: halves H and W exactly
    return nn.Conv2d(cin, cout, 4, stride=2, padding=1)


def _same_conv(cin: int, cout: int) -> nn.Sequential:
    # 4x4, stride 1, 'same' size: pad 1 before and 2 after, as TensorFlow does for even kernels. Also stands
    # for the paper's stride-1 "upconv": a stride-1 transposed convolution is a convolution.
    return nn.Sequential(nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(cin, cout, 4))


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(LRELU_SLOPE)


def _q_head(features: int, q_dim: int, batch_norm: bool = True) -> nn.Sequential:
    # the paper's Q head: FC-128 + BN + lReLU, then every code's outputs in one linear layer
    norm = [nn.BatchNorm1d(128)] if batch_norm else []
    return nn.Sequential(nn.Linear(features, 128), *norm, _lrelu(), nn.Linear(128, q_dim))


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
        _conv(c, 64),
        _lrelu(),  # [N, 64, H/2, W/2] (no BN on the first layer)
        _conv(64, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H/4, W/4]
        nn.Flatten(),
        nn.Linear(128 * (h // 4) * (w // 4), 1024),
        nn.BatchNorm1d(1024),
        _lrelu(),
    )  # [N, 1024]
    return _Trunk(trunk, 1024, True)


def _seed_mnist_d(c: int, h: int, w: int) -> _Trunk:
    trunk = nn.Sequential(
        _conv(c, 64),
        nn.BatchNorm2d(64),
        _lrelu(),  # [N, 64, H/2, W/2]
        _conv(64, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H/4, W/4]
        nn.Flatten(),
        nn.Linear(128 * (h // 4) * (w // 4), 128),
        nn.BatchNorm1d(128),
        _lrelu(),
    )  # [N, 128]
    return _Trunk(trunk, 128, False)


def _seed_cifar10_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    h8, w8 = h // 8, w // 8
    return nn.Sequential(
        nn.Linear(spec.input_dim, 256 * h8 * w8),
        nn.BatchNorm1d(256 * h8 * w8),
        _lrelu(),
        nn.Unflatten(1, (256, h8, w8)),  # [N, 256, H/8, W/8]
        _deconv(256, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H/4, W/4]
        _deconv(128, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H/2, W/2]
        _deconv(128, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H, W]
        nn.ZeroPad2d((1, 2, 1, 2)),
        nn.Conv2d(128, c, 4),
        nn.Tanh(),  # 4x4 'same' conv: [N, C, H, W]
    )


def _seed_cifar10_d(c: int, h: int, w: int) -> _Trunk:
    h8, w8 = h // 8, w // 8
    trunk = nn.Sequential(
        _conv(c, 64),
        nn.BatchNorm2d(64),
        _lrelu(),  # [N, 64, H/2, W/2]
        _conv(64, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H/4, W/4]
        _conv(128, 256),
        nn.BatchNorm2d(256),
        _lrelu(),  # [N, 256, H/8, W/8]
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
        _conv(c, 64),
        _lrelu(),  # [N, 64, H/2, W/2]
        _conv(64, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H/4, W/4]
        _conv(128, 256),
        nn.BatchNorm2d(256),
        _lrelu(),  # [N, 256, H/8, W/8]
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
        _conv(c, 64),
        _lrelu(),  # [N, 64, H/2, W/2]
        _conv(64, 128),
        nn.BatchNorm2d(128),
        _lrelu(),  # [N, 128, H/4, W/4]
        _conv(128, 256),
        nn.BatchNorm2d(256),
        _lrelu(),  # [N, 256, H/8, W/8]
        _same_conv(256, 256),
        nn.BatchNorm2d(256),
        _lrelu(),  # [N, 256, H/8, W/8]
        _same_conv(256, 256),
        nn.BatchNorm2d(256),
        _lrelu(),  # [N, 256, H/8, W/8]
        nn.Flatten(),
        nn.Linear(256 * h8 * w8, 1024),
        nn.BatchNorm1d(1024),
        _lrelu(),
    )  # [N, 1024]
    return _Trunk(trunk, 1024, True)


def _cr_dsprites_g(spec: LatentSpec, c: int, h: int, w: int) -> nn.Sequential:
    ups = (h // 4).bit_length() - 1  # 4x4 -> H x W in `ups` doublings (H / 4 a power of two: divisor 8)
    widths = [64, 64, 32, 32][:ups]  # FC 4x4x64, then Lin et al.'s upconvs 64, 32, 32 (the last to C channels)
    layers = []
    for cin, cout in zip(widths[:-1], widths[1:]):
        layers += [_deconv(cin, cout), _lrelu(), nn.BatchNorm2d(cout)]
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
        layers += [_conv(cin, cout), _lrelu()]
        cin, h, w = cout, h // 2, w // 2
    trunk = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * h * w, 128), _lrelu())  # [N, 128]
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


def _arch(cfg: TrainConfig) -> Arch:
    if cfg.arch not in ARCHS:
        raise ValueError(f"unknown arch {cfg.arch!r}")
    return ARCHS[cfg.arch]


# ---------------------------------------------------------------------------------------------- the modules
class Generator(nn.Module):
    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg
        self.spec = cfg.latent
        self.net = _arch(cfg).generator(self.spec, *cfg.image_shape)

    def forward(self, latent_vector: torch.Tensor) -> torch.Tensor:
        # [N, noise_dim + sum K_i + L] -> [N, C, H, W] in [-1, 1]
        return self.net(latent_vector)


class Discriminator(nn.Module):
    """D and Q: one trunk, a real/fake head, and Q's code outputs.

    `q_head` is None for the seed presets, where one linear layer (`d_head`) emits
    [logit, Q's flat output] together.
    """

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg
        self.spec = cfg.latent
        trunk = _arch(cfg).trunk(*cfg.image_shape)
        self.trunk = trunk.net
        if trunk.separate_q_head:
            self.d_head = nn.Linear(trunk.features, 1)
            self.q_head = _q_head(trunk.features, self.spec.q_dim, trunk.q_head_batch_norm)
        else:
            self.d_head = nn.Linear(trunk.features, 1 + self.spec.q_dim)
            self.q_head = None
        if cfg.spectral_norm:  # D's layers 1-Lipschitz per layer (Miyato et al. 2018); Q's own head left free
            for module in [*self.trunk.modules(), self.d_head]:
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    def q_parameters(self) -> list[nn.Parameter]:
        """Parameters that only Q uses (trained at Q's learning rate); empty when all layers are shared."""
        return [] if self.q_head is None else list(self.q_head.parameters())

    def shared_and_d_parameters(self) -> list[nn.Parameter]:
        q = {id(p) for p in self.q_parameters()}
        return [p for p in self.parameters() if id(p) not in q]

    def forward(self, images: torch.Tensor) -> DOutput:
        # images [N, C, H, W] in [-1, 1]
        features = self.trunk(images)  # [N, F]
        out = self.d_head(features)  # [N, 1] or [N, 1 + q_dim]
        q = self.q_head(features) if self.q_head is not None else out[:, 1:]  # [N, q_dim]
        return DOutput(out[:, 0], self.spec.split_q(q))


class ContrastiveDiscriminator(nn.Module):
    """InfoGAN-CR's H: which code does a pair of images share? (losses.py has the objective.)

    Spectral-norm convolutions as in Lin et al.'s dSprites network (32, 32, 64, 64 channels, each halving
    the image while it is at least 8 pixels high and wide), a 256-unit layer, one logit per code. No
    BatchNorm: H sees each pair on its own.
    """

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        c, h, w = cfg.image_shape
        layers, cin = [], 2 * c
        for cout in (32, 32, 64, 64):
            if min(h, w) < 8:
                break
            layers += [_conv(cin, cout), _lrelu()]
            cin, h, w = cout, h // 2, w // 2
        self.net = nn.Sequential(
            *layers,  # [N, 2C, H, W] -> [N, cin, h, w]
            nn.Flatten(),
            nn.Linear(cin * h * w, 256),
            _lrelu(),
            nn.Linear(256, cfg.latent.n_codes),  # [N, n_codes]
        )
        for module in self.net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.utils.parametrizations.spectral_norm(module)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        # two batches [N, C, H, W] -> logits [N, n_codes] over the code they share
        return self.net(torch.cat([first, second], dim=1))


@contextlib.contextmanager
def eval_mode(*modules: nn.Module):
    """Eval mode (BatchNorm running statistics, no dropout) inside the block; each module's mode restored after."""
    previous = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, was_training in zip(modules, previous):
            m.train(was_training)


MAX_PARAMETERS = 1_000_000_000  # G and D together; the paper's largest model (Chairs, 64x64) has about 40M


def parameter_count(cfg: TrainConfig) -> int:
    """G's and D's parameters, counted on the meta device (no memory is allocated)."""
    with torch.device("meta"):
        gen, disc = build_networks(cfg)
    return sum(p.numel() for p in gen.parameters()) + sum(p.numel() for p in disc.parameters())


def check_model_size(cfg: TrainConfig) -> None:
    """Refuse, before anything is allocated or written, a model too large to build (huge --image-size)."""

    n = parameter_count(cfg)
    if n > MAX_PARAMETERS:
        raise UsageError(
            f"the {cfg.arch} model for {cfg.image_shape[1]}x{cfg.image_shape[2]} images has {n:,} "
            f"parameters, more than {MAX_PARAMETERS:,}: use smaller images (--image-size) or "
            f"another --arch"
        )


def build_networks(cfg: TrainConfig) -> tuple[Generator, Discriminator]:
    if cfg.image_shape is None:
        raise ValueError("config is not resolved: image_shape is unknown (call config.resolve first)")
    return Generator(cfg), Discriminator(cfg)
