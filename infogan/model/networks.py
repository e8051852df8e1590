"""The networks a run trains, built from an architecture of `ARCHS` (architectures.py): the `Generator`, the
`Discriminator` whose trunk D and Q share, and InfoGAN-CR's `CRDiscriminator`. Each takes a
`ModelSpec`, the few settings a network is built from (a run's config gives it as `TrainConfig.model`);
`build_networks` makes G and D for one and `check_model_size` refuses one too large for any machine.

Module names (`net`, `trunk`, `d_head`, `q_head`) are part of the checkpoint format: keep them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from infogan.errors import UsageError
from infogan.model.architectures import DOutput, arch_of, conv, lrelu, q_head
from infogan.model.latent import LatentSpec, QCodes


@dataclass(frozen=True)
class ModelSpec:
    """What the networks are built from, and all they read of a run's settings."""

    arch: str  # a name of ARCHS
    image_shape: tuple[int, int, int]  # [C, H, W]
    latent: LatentSpec
    spectral_norm: bool = False  # D's layers (not Q's own head) spectrally normalised
    overcluster: int = 0  # IIC's over-clustering head on D's trunk: its clusters; 0: none


# ---------------------------------------------------------------------------------------------- the modules
class Generator(nn.Module):
    def __init__(self, model: ModelSpec):
        super().__init__()
        self.spec = model.latent
        self.net = arch_of(model.arch).generator(self.spec, *model.image_shape)

    def forward(self, latent_vector: torch.Tensor) -> torch.Tensor:
        # [N, noise_dim + sum K_i + L] -> [N, C, H, W] in [-1, 1]
        return self.net(latent_vector)


class Discriminator(nn.Module):
    """D and Q: one trunk, a real/fake head, and Q's code outputs.

    `q_head` is None for the seed presets, where one linear layer (`d_head`) emits
    [logit, Q's flat output] together.
    """

    def __init__(self, model: ModelSpec):
        super().__init__()
        self.spec = model.latent
        trunk = arch_of(model.arch).trunk(*model.image_shape)
        self.trunk = trunk.net
        if trunk.separate_q_head:
            self.d_head = nn.Linear(trunk.features, 1)
            self.q_head = q_head(trunk.features, self.spec.q_dim, trunk.q_head_batch_norm)
        else:
            self.d_head = nn.Linear(trunk.features, 1 + self.spec.q_dim)
            self.q_head = None
        # IIC's over-clustering head (--iic-overcluster): trained only on real pairs, at Q's learning rate
        self.overcluster_head = nn.Linear(trunk.features, model.overcluster) if model.overcluster else None
        # whether every BatchNorm is a layer of the trunk or of Q's head, which `_per_view` can split by view
        top = {id(m) for seq in (self.trunk, self.q_head) if seq is not None for m in seq.children()}
        self.norms_at_top_level = all(
            id(m) in top for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
        )
        if model.spectral_norm:  # D's layers 1-Lipschitz per layer (Miyato et al. 2018); Q's own head left free
            for module in [*self.trunk.modules(), self.d_head]:
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    def q_parameters(self) -> list[nn.Parameter]:
        """Parameters that only Q uses (trained at Q's learning rate); empty when all layers are shared."""
        heads = [head for head in (self.q_head, self.overcluster_head) if head is not None]
        return [p for head in heads for p in head.parameters()]

    def shared_and_d_parameters(self) -> list[nn.Parameter]:
        q = {id(p) for p in self.q_parameters()}
        return [p for p in self.parameters() if id(p) not in q]

    def forward(self, images: torch.Tensor, views: int = 1) -> DOutput:
        """images [views * N, C, H, W] in [-1, 1]: `views` batches of N concatenated, which BatchNorm
        normalises each on its own, so one call computes what `views` calls would (`DOutput.chunk` splits
        the result) with larger matrix products and one weight gradient per layer instead of `views`."""
        if views > 1 and self.training and not self.norms_at_top_level:
            return _concatenated([self(part) for part in images.chunk(views)])  # the same, call by call
        features = _per_view(self.trunk, images, views)  # [views * N, F]
        out = self.d_head(features)  # [views * N, 1] or [views * N, 1 + q_dim]
        q = _per_view(self.q_head, features, views) if self.q_head is not None else out[:, 1:]  # [views * N, q_dim]
        overcluster = self.overcluster_head(features) if self.overcluster_head is not None else None  # [.., K]
        return DOutput(out[:, 0], self.spec.split_q(q), overcluster)


def _per_view(layers: nn.Sequential, x: torch.Tensor, views: int) -> torch.Tensor:
    """layers applied to x, each training-mode BatchNorm to each of x's `views` equal batches on its own (so
    its batch statistics, and its running statistics' updates in turn, are those of separate calls)."""
    for layer in layers:
        if views > 1 and layer.training and isinstance(layer, nn.modules.batchnorm._BatchNorm):
            x = torch.cat([layer(part) for part in x.chunk(views)])
        else:
            x = layer(x)
    return x


def _concatenated(outputs: list[DOutput]) -> DOutput:
    """The outputs of separate calls as one call on their concatenated batches would give them."""
    cat = torch.cat
    qs = [o.q for o in outputs]
    q = QCodes(
        [cat(logits) for logits in zip(*(q.cat_logits for q in qs))],
        cat([q.cont_mean for q in qs]),
        None if qs[0].cont_logstd is None else cat([q.cont_logstd for q in qs]),
    )
    over = None if outputs[0].overcluster is None else cat([o.overcluster for o in outputs])
    return DOutput(cat([o.logit for o in outputs]), q, over)


class CRDiscriminator(nn.Module):
    """InfoGAN-CR's pair discriminator D_CR: which code does a pair of images share? (losses.py has the objective.)

    Spectral-norm convolutions as in Lin et al.'s dSprites network (32, 32, 64, 64 channels, each halving
    the image while it is at least 8 pixels high and wide), a 256-unit layer, one logit per code. No
    BatchNorm: D_CR sees each pair on its own.
    """

    def __init__(self, model: ModelSpec):
        super().__init__()
        c, h, w = model.image_shape
        layers, cin = [], 2 * c
        for cout in (32, 32, 64, 64):
            if min(h, w) < 8:
                break
            layers += [conv(cin, cout), lrelu()]
            cin, h, w = cout, h // 2, w // 2
        self.net = nn.Sequential(
            *layers,  # [N, 2C, H, W] -> [N, cin, h, w]
            nn.Flatten(),
            nn.Linear(cin * h * w, 256),
            lrelu(),
            nn.Linear(256, model.latent.n_codes),  # [N, n_codes]
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


def parameter_count(model: ModelSpec) -> int:
    """G's and D's parameters, counted on the meta device (no memory is allocated)."""
    with torch.device("meta"):
        gen, disc = build_networks(model)
    return sum(p.numel() for p in gen.parameters()) + sum(p.numel() for p in disc.parameters())


def check_model_size(model: ModelSpec) -> None:
    """Refuse, before anything is allocated or written, a model too large to build (huge --image-size)."""
    n = parameter_count(model)
    if n > MAX_PARAMETERS:
        raise UsageError(
            f"the {model.arch} model for {model.image_shape[1]}x{model.image_shape[2]} images has {n:,} "
            f"parameters, more than {MAX_PARAMETERS:,}: use smaller images (--image-size) or "
            f"another --arch"
        )


def build_networks(model: ModelSpec) -> tuple[Generator, Discriminator]:
    return Generator(model), Discriminator(model)
