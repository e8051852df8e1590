"""A run's trainable state: its networks (`Nets`) and the optimisers that own their parameters (`Optimizers`).

Naming, one rule everywhere: `Nets.gen`, `.disc`, `.cr` are the bare modules (checkpoints, pictures and
metrics use them); `.gen_ddp`, `.disc_ddp`, `.cr_ddp` are what gradient passes run: the
DistributedDataParallel wrapper under torchrun, the module itself otherwise. `cr` is InfoGAN-CR's pair
discriminator (Lin et al.'s H), under the one name its options (--cr-weight), statistics (cr_loss, cr_acc),
phase ("CR") and checkpoint entries ("cr", "opt_cr") use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from infogan.config import TrainConfig
from infogan.model.networks import CRDiscriminator, Discriminator, Generator, build_networks
from infogan.train.distributed import SINGLE, Dist


@dataclass
class Nets:
    """A run's networks: bare modules and what the step's gradient passes run (see the module docstring)."""

    gen: Generator
    disc: Discriminator
    cr: CRDiscriminator | None = None  # InfoGAN-CR's pair discriminator (--cr-weight), else None
    gen_ddp: nn.Module | None = None
    disc_ddp: nn.Module | None = None
    cr_ddp: nn.Module | None = None

    def __post_init__(self):
        self.gen_ddp = self.gen if self.gen_ddp is None else self.gen_ddp
        self.disc_ddp = self.disc if self.disc_ddp is None else self.disc_ddp
        self.cr_ddp = self.cr if self.cr_ddp is None else self.cr_ddp

    @classmethod
    def build(cls, cfg: TrainConfig, device: torch.device, dist: Dist = SINGLE) -> Nets:
        """The networks of a resolved config on `device` (weights from the global seed, set by the caller),
        wrapped in DDP when the run has several processes."""
        gen, disc = (module.to(device) for module in build_networks(cfg.model))
        cr = CRDiscriminator(cfg.model).to(device) if cfg.cr_weight > 0 else None
        if not dist.enabled:
            return cls(gen, disc, cr)
        ids = [device.index] if device.type == "cuda" else None
        return cls(
            gen,
            disc,
            cr,
            DDP(gen, device_ids=ids),
            DDP(disc, device_ids=ids),
            DDP(cr, device_ids=ids) if cr is not None else None,
        )

    def modules(self) -> list[nn.Module]:
        """The bare modules that hold the run's weights."""
        return [self.gen, self.disc, *([self.cr] if self.cr is not None else [])]

    def state_dict(self) -> dict:
        """The checkpoint's network entries."""
        return {
            "generator": self.gen.state_dict(),
            "discriminator": self.disc.state_dict(),
            **({"cr": self.cr.state_dict()} if self.cr is not None else {}),
        }

    def load_state_dict(self, ckpt: dict) -> None:
        self.gen.load_state_dict(ckpt["generator"])
        self.disc.load_state_dict(ckpt["discriminator"])
        if self.cr is not None:  # "contrastive": checkpoints written before the one name
            self.cr.load_state_dict(ckpt["cr"] if "cr" in ckpt else ckpt["contrastive"])


@dataclass
class Optimizers:
    """G's owns G; D's owns the trunk, D's head and Q's head (Q's head at lr_q, default G's lr); CR's (InfoGAN-CR)
    owns the pair discriminator, at D's learning rate as Lin et al."""

    g: torch.optim.Optimizer
    d: torch.optim.Optimizer
    cr: torch.optim.Optimizer | None = None

    def state_dict(self) -> dict:
        """The checkpoint's optimiser entries."""
        return {
            "opt_g": self.g.state_dict(),
            "opt_d": self.d.state_dict(),
            **({"opt_cr": self.cr.state_dict()} if self.cr is not None else {}),
        }

    def load_state_dict(self, ckpt: dict, capturable: bool) -> None:
        self.g.load_state_dict(ckpt["opt_g"])
        self.d.load_state_dict(ckpt["opt_d"])
        set_capturable(capturable, self.g, self.d)
        if self.cr is not None:
            self.cr.load_state_dict(ckpt["opt_cr"] if "opt_cr" in ckpt else ckpt["opt_contrastive"])


def make_optimizers(cfg: TrainConfig, nets: Nets, capturable: bool = False) -> Optimizers:
    """`capturable`: Adam's step count kept on the device, as a CUDA graph needs (cuda_graphs.py)."""
    betas = (cfg.beta1, cfg.beta2)
    groups = [{"params": nets.disc.shared_and_d_parameters(), "lr": cfg.lr_d}]
    if nets.disc.q_parameters():
        groups.append({"params": nets.disc.q_parameters(), "lr": cfg.lr_g if cfg.lr_q is None else cfg.lr_q})
    kernels = _adam_kernels(next(nets.gen.parameters()).device)  # every network lives on the run's device
    adam = dict(betas=betas, capturable=capturable, **kernels)
    return Optimizers(
        torch.optim.Adam(nets.gen.parameters(), lr=cfg.lr_g, **adam),
        torch.optim.Adam(groups, **adam),
        torch.optim.Adam(nets.cr.parameters(), lr=cfg.lr_d, betas=betas, **kernels) if nets.cr is not None else None,
    )


def _adam_kernels(device: torch.device) -> dict:
    """On a CPU, fused Adam: one kernel a tensor, faster than foreach there (docs/results.md#speed).
    Elsewhere foreach (one launch a parameter group), the kernels CUDA graph capture was tested with."""
    return {"fused": True} if device.type == "cpu" else {"foreach": True}


def set_capturable(capturable: bool, *optimizers: torch.optim.Optimizer) -> None:
    """A loaded optimiser state brings the flag of the run that saved it (a GPU run with graphs, resumed on a
    CPU, must not keep it: capturable Adam refuses CPU tensors); this run's choice wins."""
    for opt in optimizers:
        for group in opt.param_groups:
            group["capturable"] = capturable
            for param in group["params"]:
                state = opt.state.get(param, {})
                if "step" in state:  # capturable Adam counts on the parameter's device, the other on the CPU
                    state["step"] = state["step"].to(param.device if capturable else "cpu", torch.float32)
