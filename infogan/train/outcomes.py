"""How a training run ends other than by finishing: the exceptions the loop raises and the command line turns
into exit statuses (cli/__init__.py)."""

from __future__ import annotations

from pathlib import Path


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM arrived; the run was checkpointed and can be resumed."""

    def __init__(self, signum: int, run_dir: Path, step: int):
        self.signum, self.run_dir, self.step = signum, run_dir, step
        super().__init__(f"interrupted at step {step}; resume with: infogan train --resume {run_dir}")


class TrainingDiverged(Exception):
    """A loss went NaN/inf; the last good checkpoint was kept."""


class TrainingFailing(Exception):
    """--stop-on-failure: the health monitor found a failure; the run was checkpointed and stopped."""
