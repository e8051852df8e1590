"""Generator and discriminator/Q networks for the three architecture presets.

- paper-mnist: InfoGAN paper, appendix C (MNIST). D and Q share the conv trunk and the FC-1024 layer;
  D's head is one linear unit, Q's head is FC-128 + BN + lReLU followed by the code outputs.
- seed-mnist: the seed's MNIST model: the paper's G, a lighter D whose single last linear layer emits
  the D logit and all Q outputs together (everything is shared).
- seed-cifar10: the seed's CIFAR-10 model (4x4 -> 32x32 generator; three-conv D with dropout).

Sizes follow the image shape in the config, so the same presets serve any npz or folder data whose sides
divide by 4 (MNIST presets) or 8 (seed-cifar10). Images are in [-1, 1] (tanh).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from .config import TrainConfig

LRELU_SLOPE = 0.1  # paper appendix C (the official code uses 0.01; the paper and the seed say 0.1)


@dataclass
class DOutput:
    logit: torch.Tensor  # [N] real/fake logit (positive = real)
    cat_logits: torch.Tensor  # [N, K] Q's categorical logits (never softmaxed here)
    cont_mean: torch.Tensor  # [N, L] Q's Gaussian means for the continuous codes
    cont_logstd: torch.Tensor | None  # [N, L] Q's log-std when learned, else None (std fixed to 1)


def _deconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    # 4x4, stride 2, padding 1: doubles H and W exactly
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    # 4x4, stride 2, padding 1: halves H and W exactly
    return nn.Conv2d(cin, cout, 4, stride=2, padding=1)


class Generator(nn.Module):
    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg
        channels, height, width = cfg.image_shape
        if cfg.arch in ("paper-mnist", "seed-mnist"):
            h, w = height // 4, width // 4
            self.net = nn.Sequential(
                nn.Linear(cfg.latent_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
                nn.Linear(1024, 128 * h * w), nn.BatchNorm1d(128 * h * w), nn.ReLU(),
                nn.Unflatten(1, (128, h, w)),  # [N, 128, H/4, W/4]
                _deconv(128, 64), nn.BatchNorm2d(64), nn.ReLU(),  # [N, 64, H/2, W/2]
                _deconv(64, channels), nn.Tanh(),  # [N, C, H, W]
            )
        elif cfg.arch == "seed-cifar10":
            h, w = height // 8, width // 8
            act = lambda: nn.LeakyReLU(LRELU_SLOPE)  # noqa: E731
            self.net = nn.Sequential(
                nn.Linear(cfg.latent_dim, 256 * h * w), nn.BatchNorm1d(256 * h * w), act(),
                nn.Unflatten(1, (256, h, w)),  # [N, 256, H/8, W/8]
                _deconv(256, 128), nn.BatchNorm2d(128), act(),  # [N, 128, H/4, W/4]
                _deconv(128, 128), nn.BatchNorm2d(128), act(),  # [N, 128, H/2, W/2]
                _deconv(128, 128), nn.BatchNorm2d(128), act(),  # [N, 128, H, W]
                # 4x4 'same' convolution: pad 1 before and 2 after, as TensorFlow does for even kernels
                nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(128, channels, 4), nn.Tanh(),  # [N, C, H, W]
            )
        else:
            raise ValueError(f"unknown arch {cfg.arch!r}")

    def forward(self, latent_vector: torch.Tensor) -> torch.Tensor:
        # [N, noise_dim + K + L] -> [N, C, H, W] in [-1, 1]
        return self.net(latent_vector)


class Discriminator(nn.Module):
    """D and Q: one trunk, a real/fake head, and Q's code outputs.

    `q_head` is None for the seed presets, where one linear layer (`d_head`) emits
    [logit, K categorical logits, L means (, L log-stds)] together.
    """

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg
        channels, height, width = cfg.image_shape
        act = lambda: nn.LeakyReLU(LRELU_SLOPE)  # noqa: E731
        self.n_q = cfg.categories + cfg.continuous * (2 if cfg.learn_std else 1)
        if cfg.arch == "paper-mnist":
            features = 1024
            self.trunk = nn.Sequential(
                _conv(channels, 64), act(),  # [N, 64, H/2, W/2] (no BN on the first layer)
                _conv(64, 128), nn.BatchNorm2d(128), act(),  # [N, 128, H/4, W/4]
                nn.Flatten(),
                nn.Linear(128 * (height // 4) * (width // 4), features), nn.BatchNorm1d(features), act(),
            )  # [N, 1024]
            self.d_head = nn.Linear(features, 1)
            self.q_head = nn.Sequential(nn.Linear(features, 128), nn.BatchNorm1d(128), act(), nn.Linear(128, self.n_q))
        elif cfg.arch == "seed-mnist":
            features = 128
            self.trunk = nn.Sequential(
                _conv(channels, 64), nn.BatchNorm2d(64), act(),  # [N, 64, H/2, W/2]
                _conv(64, 128), nn.BatchNorm2d(128), act(),  # [N, 128, H/4, W/4]
                nn.Flatten(),
                nn.Linear(128 * (height // 4) * (width // 4), features), nn.BatchNorm1d(features), act(),
            )  # [N, 128]
            self.d_head = nn.Linear(features, 1 + self.n_q)
            self.q_head = None
        elif cfg.arch == "seed-cifar10":
            features = 256 * (height // 8) * (width // 8)
            self.trunk = nn.Sequential(
                _conv(channels, 64), nn.BatchNorm2d(64), act(),  # [N, 64, H/2, W/2]
                _conv(64, 128), nn.BatchNorm2d(128), act(),  # [N, 128, H/4, W/4]
                _conv(128, 256), nn.BatchNorm2d(256), act(),  # [N, 256, H/8, W/8]
                nn.Flatten(), nn.Dropout(0.4),
            )  # [N, 256*H/8*W/8]
            self.d_head = nn.Linear(features, 1 + self.n_q)
            self.q_head = None
        else:
            raise ValueError(f"unknown arch {cfg.arch!r}")

    def q_parameters(self) -> list[nn.Parameter]:
        """Parameters that only Q uses (trained at Q's learning rate); empty when all layers are shared."""
        return [] if self.q_head is None else list(self.q_head.parameters())

    def shared_and_d_parameters(self) -> list[nn.Parameter]:
        q = {id(p) for p in self.q_parameters()}
        return [p for p in self.parameters() if id(p) not in q]

    def forward(self, images: torch.Tensor) -> DOutput:
        # images [N, C, H, W] in [-1, 1]
        features = self.trunk(images)  # [N, F]
        out = self.d_head(features)  # [N, 1] or [N, 1 + n_q]
        logit = out[:, 0]
        q = self.q_head(features) if self.q_head is not None else out[:, 1:]  # [N, n_q]
        k, lc = self.cfg.categories, self.cfg.continuous
        cat_logits = q[:, :k]
        cont_mean = q[:, k:k + lc]
        cont_logstd = q[:, k + lc:k + 2 * lc] if self.cfg.learn_std else None
        return DOutput(logit, cat_logits, cont_mean, cont_logstd)


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


def build_networks(cfg: TrainConfig) -> tuple[Generator, Discriminator]:
    if cfg.image_shape is None:
        raise ValueError("config is not resolved: image_shape is unknown (call config.resolve first)")
    return Generator(cfg), Discriminator(cfg)
