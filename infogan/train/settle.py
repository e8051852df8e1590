"""When has a run settled? A label-free stop rule for --stop-when-settled.

At the end of every epoch Q sorts a fixed set of real training images (SETTLE_IMAGES of them, the same
every epoch) into the values of its first categorical code. The epoch is *settled* when

- at most CHANGED_AT_MOST of those images changed category since the last epoch, and
- Q's information about the code on them (q_real_mi, metrics/codes.py) moved by at most MI_MOVED_AT_MOST
  nats:

the categories are no longer being found, only polished. The run stops after PATIENCE settled epochs in a
row, never before --min-epochs, and at --epochs at the latest. No label is read: the rule works where
nobody knows the classes. What it costs in held-out accuracy: docs/results.md#a-label-free-stop.

The watch's state (the last epoch's categories, its q_real_mi, the streak, the epoch it stopped at) is part
of the checkpoint, so a resumed run stops where an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from infogan.metrics.codes import q_on_real, q_real_information

SETTLE_IMAGES = 1000
CHANGED_AT_MOST = 0.015  # share of the fixed images whose category changed since the last epoch
MI_MOVED_AT_MOST = 0.01  # nats, of ln 10 = 2.30 for ten categories
PATIENCE = 3  # settled epochs in a row before the run stops


def is_settled(changed: float, moved: float) -> bool:
    """One epoch's verdict from its two measures (share of images that changed category, |change| of q_real_mi)."""
    return changed <= CHANGED_AT_MOST and moved <= MI_MOVED_AT_MOST


def stop_epoch(changed: list[float], mi: list[float], min_epochs: int = 0) -> int | None:
    """The epoch (1-based) a run whose epochs measured `changed` and `mi` (the records' settle_changed and
    settle_q_real_mi) stops at, as SettleWatch decides it; None if it trains them all. For judging the rule
    on finished runs (benchmarks/settle.py)."""
    streak = 0
    for epoch in range(2, len(mi) + 1):  # the first epoch has nothing to compare with
        streak = streak + 1 if is_settled(changed[epoch - 1], abs(mi[epoch - 1] - mi[epoch - 2])) else 0
        if streak >= PATIENCE and epoch >= min_epochs:
            return epoch
    return None


@dataclass
class SettleWatch:
    """Judges each epoch's end (`judge`). Rank 0 only; the trainer keeps the epoch it stopped at."""

    real: torch.Tensor  # uint8 [SETTLE_IMAGES, C, H, W], fixed for the run
    min_epochs: int
    categories: torch.Tensor | None = None  # [N] int64, the last epoch's category of each image
    mi: float | None = None  # the last epoch's q_real_mi
    streak: int = 0  # settled epochs in a row
    last: dict = field(default_factory=dict)  # the last judgement's measures, for the epoch's record

    def judge(self, disc, epoch: int) -> bool:
        """Measure Q on the fixed images after `epoch` epochs; True when the run should stop here."""
        (probs,) = q_on_real(disc, self.real)[:1]  # the first categorical code, [N, K]
        categories, mi = probs.argmax(1).cpu(), q_real_information(probs)["q_real_mi"]
        first = self.categories is None  # nothing to compare with yet: not settled
        changed = 1.0 if first else float((categories != self.categories).float().mean())
        settled = not first and is_settled(changed, abs(mi - self.mi))
        self.categories, self.mi = categories, mi
        self.streak = self.streak + 1 if settled else 0
        self.last = {
            "settle_changed": round(changed, 4),
            "settle_q_real_mi": round(mi, 4),
            "settle_streak": self.streak,
        }
        return self.streak >= PATIENCE and epoch >= self.min_epochs

    def reason(self) -> str:
        return (
            f"settled: for {self.streak} epochs in a row at most {CHANGED_AT_MOST:.1%} of {len(self.real):,} fixed "
            f"real images changed category and Q's information on them moved by at most {MI_MOVED_AT_MOST} nats "
            f"(--stop-when-settled)"
        )

    def state_dict(self) -> dict:
        return {"categories": self.categories, "mi": self.mi, "streak": self.streak}

    def load_state_dict(self, state: dict) -> None:
        categories = state["categories"]
        if categories is not None and (not isinstance(categories, torch.Tensor) or len(categories) != len(self.real)):
            raise ValueError("the checkpoint's settle state does not fit this run's fixed images")
        self.categories, self.mi = categories, state["mi"]
        self.streak = int(state["streak"])
