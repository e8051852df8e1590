"""Edit a real image: Q reads its codes, and the noise that makes G draw it with them is found by optimisation
(GAN inversion), so moving a code from there edits that image.

`invert(gen, encoder, images)`:

1. Q reads each image's codes (serve/encode.py): every categorical code's most probable value and the
   continuous codes' means, clamped to the explorer's range CODE_RANGE;
2. G stays frozen, in eval mode, and with those codes fixed, the noise z starts from the best of
   STARTS prior draws and follows Adam on the pixel error for STEPS steps, held inside the noise prior's
   support (uniform noise: [-1, 1]; normal noise: within 3 standard deviations) after each step.

Only the noise moves: the codes stay what Q read, so the sliders start from the image's own codes and the
reconstruction error says how much of the image the noise could not draw. The cost is STEPS forward and
backward passes of G on a batch of STARTS images: about a second for an MNIST digit on a CPU core. What it
measures on held-out digits: docs/results.md#editing-a-real-digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infogan.data.images import to_unit_range
from infogan.model.latent import CODE_RANGE, Latent
from infogan.model.networks import Discriminator, Generator, eval_mode
from infogan.serve.encode import encode

STARTS = 16  # prior draws of the noise the search starts from; the best one is refined
STEPS = 100  # Adam steps on the noise
LEARNING_RATE = 0.1


@dataclass
class Inverted:
    latent: Latent  # [N] latents: Q's codes and the noise found
    reconstruction: torch.Tensor  # G(latent) [N, C, H, W] in [-1, 1]
    error: torch.Tensor  # [N] mean absolute pixel error, in units of the 0..1 intensity range


def invert(gen: Generator, encoder: Discriminator, images: torch.Tensor, seed: int = 0) -> Inverted:
    """The latents that make G draw `images` (uint8 [N, C, H, W], the run's shape): Q's codes, searched noise."""
    spec = gen.spec
    read = encode(encoder, images)
    target = to_unit_range(images).float()  # [N, C, H, W]
    n = len(images)
    cont = read.continuous.clamp(*CODE_RANGE)  # [N, L]
    starts = spec.sample(n * STARTS, torch.Generator().manual_seed(seed))  # [N * STARTS] draws of the noise
    latent = Latent(starts.z, read.categories.repeat_interleave(STARTS, 0), cont.repeat_interleave(STARTS, 0))
    limit = 1.0 if spec.noise_prior == "uniform" else 3.0
    requires = [p.requires_grad for p in gen.parameters()]
    gen.requires_grad_(False)
    try:
        with eval_mode(gen), torch.no_grad():  # the best start per image
            errors = (gen(spec.vector(latent)) - target.repeat_interleave(STARTS, 0)).abs().flatten(1).mean(1)
        best = errors.view(n, STARTS).argmin(1) + torch.arange(n) * STARTS
        z = latent.z[best].clone().requires_grad_(True)  # [N, noise_dim]
        fixed = Latent(z, read.categories, cont)
        optimiser = torch.optim.Adam([z], lr=LEARNING_RATE)
        with eval_mode(gen):
            for _ in range(STEPS):
                optimiser.zero_grad(set_to_none=True)
                loss = (gen(spec.vector(fixed)) - target).square().mean()
                loss.backward()
                optimiser.step()
                with torch.no_grad():
                    z.clamp_(-limit, limit)
            with torch.no_grad():
                found = Latent(z.detach().clone(), read.categories, cont)
                drawn = gen(spec.vector(found)).float()
    finally:
        for p, flag in zip(gen.parameters(), requires):
            p.requires_grad_(flag)
    error = ((drawn - target).abs() / 2).flatten(1).mean(1)  # [-1, 1] to 0..1 units
    return Inverted(found, drawn, error)
