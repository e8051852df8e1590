"""--lr-schedule: every learning rate of the run as a function of the step alone.

    factor(step) = 1 at step 0, `final` at the last step, total - 1 (total = epochs x steps per epoch);
    with t = step / (total - 1):
    constant  1 throughout (the paper's Adam at fixed rates; the default)
    cosine    final + (1 - final) * (1 + cos(pi * t)) / 2
    linear    1 - (1 - final) * t

Each optimiser group runs at its configured rate (lr_d, lr_g, lr_q, D_CR's) times the factor. Written here
rather than with torch.optim.lr_scheduler because a pure function of the step needs no state of its own:
a resumed run sets the same rates from its checkpoint's step, with nothing more in the checkpoint, where a
LambdaLR's step counter would have to be saved and restored beside the optimisers'. A run extended with a
larger --epochs stretches its schedule from that step on (the total changed).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # annotations only
    from infogan.config import TrainConfig
    from infogan.train.state import Optimizers

SCHEDULES = ("constant", "cosine", "linear")


def lr_factor(name: str, step: int, total: int, final: float) -> float:
    """The learning rates' multiplier at `step` of `total` (clamped to the last step after it)."""
    if name == "constant" or total <= 1:
        return 1.0
    t = min(step / (total - 1), 1.0)  # 0 at the first step, 1 at the last
    if name == "linear":
        return 1.0 - (1.0 - final) * t
    if name == "cosine":
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown schedule {name!r}")


class LrSchedule:
    """Sets every group of `optimizers` to its base rate times lr_factor before each step. The base rates
    are the groups' rates when this is built (the config's: build it before a checkpoint is loaded)."""

    def __init__(self, optimizers: list[torch.optim.Optimizer], name: str, total_steps: int, final: float):
        self.name, self.total, self.final, self.optimizers = name, total_steps, final, optimizers
        # by position, not the group dicts themselves: an optimiser's load_state_dict replaces those
        self.base = [[group["lr"] for group in opt.param_groups] for opt in optimizers]

    def factor(self, step: int) -> float:
        return lr_factor(self.name, step, self.total, self.final)

    def apply(self, step: int) -> None:
        factor = self.factor(step)
        for opt, rates in zip(self.optimizers, self.base):
            for group, base in zip(opt.param_groups, rates):
                group["lr"] = base * factor


def schedule_for(cfg: TrainConfig, opts: Optimizers, total_steps: int) -> LrSchedule | None:
    """The run's schedule over every optimiser it has (None for the paper's constant rates). Build it before a
    checkpoint is loaded: its base rates are the config's."""
    if cfg.lr_schedule == "constant":
        return None
    optimizers = [o for o in (opts.g, opts.d, opts.cr) if o is not None]
    return LrSchedule(optimizers, cfg.lr_schedule, total_steps, cfg.lr_final)
