"""A step's statistics by name, and their sums over steps: what metrics.jsonl, the epoch line, the plots and
the progress bar read (how each is shown: display.py)."""

from __future__ import annotations

import torch

from infogan.errors import UsageError
from infogan.train import distributed
from infogan.train.distributed import Dist


class Report:
    """What one step reported: 0-d tensors by name, left on the device (no host sync)."""

    def __init__(self):
        self.values: dict[str, torch.Tensor] = {}

    def __call__(self, name: str, value: torch.Tensor) -> None:
        self.values[name] = value.detach().float()


# Checkpoints written before statistics were named hold their sums in this order.
LEGACY_STAT_NAMES = ("d_loss", "g_loss", "cat_loss", "cont_loss", "mi_bound", "d_acc_real", "d_acc_fake")


class RunningSums:
    """Sums of named step statistics since the last reset, on the device as one tensor (so a record costs
    one host sync). The names are saved with the sums; a resume whose names differ is refused."""

    def __init__(self, names: tuple[str, ...], device):
        self.names = tuple(names)
        self.sums = torch.zeros(len(self.names), device=device)
        self.steps = 0

    def stack(self, stats: dict) -> torch.Tensor:
        """A step's statistics as one tensor in this accumulator's order."""
        return torch.stack([stats[name] for name in self.names])

    def add(self, values: torch.Tensor) -> None:
        self.sums += values
        self.steps += 1

    def reset(self) -> None:
        self.sums.zero_()
        self.steps = 0

    def restore(self, names, sums: torch.Tensor, steps: int, what: str) -> None:
        """Sums saved under `names`, in whatever order they were saved (older versions logged another order)."""
        if set(names) != set(self.names) or len(names) != len(self.names) or tuple(sums.shape) != (len(names),):
            raise UsageError(
                f"the checkpoint's running sums ({what}) hold {', '.join(names)}, this run logs "
                f"{', '.join(self.names)}: the checkpoint is not from this run's code layout"
            )
        saved = dict(zip(names, sums.to(torch.float32)))
        self.sums = torch.stack([saved[name] for name in self.names]).to(self.sums.device)
        self.steps = int(steps)


class StepSums:
    """The statistics steps report, summed twice: since the last interval record and since the epoch began;
    what a checkpoint keeps of them (so a resumed epoch's record equals an uninterrupted one's)."""

    def __init__(self, names: tuple[str, ...], device):
        self.epoch, self.interval = RunningSums(names, device), RunningSums(names, device)

    def add(self, stats: dict) -> None:
        values = self.epoch.stack(stats)  # both hold the same names: one stack for both
        self.epoch.add(values)
        self.interval.add(values)

    def take(self, kind: str, dist: Dist) -> dict[str, float]:
        """The mean of each statistic since the last record of `kind` ("interval" or "epoch"), over steps and
        ranks (collective: one host sync), and that sum reset."""
        sums = self.epoch if kind == "epoch" else self.interval
        values = distributed.mean_(sums.sums / max(sums.steps, 1), dist).tolist()
        sums.reset()
        return dict(zip(sums.names, values))

    def state_dict(self) -> dict:
        return {
            "stat_names": list(self.epoch.names),
            "epoch_sums": self.epoch.sums.cpu(),
            "interval_sums": self.interval.sums.cpu(),
            "interval_steps": self.interval.steps,
        }

    def load_state_dict(self, ckpt: dict) -> None:
        names = ckpt.get("stat_names", LEGACY_STAT_NAMES)
        self.epoch.restore(names, ckpt["epoch_sums"], ckpt["batch"], "epoch")
        self.interval.restore(names, ckpt["interval_sums"], ckpt["interval_steps"], "interval")
