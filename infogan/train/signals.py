"""Signals a training run answers: the first SIGINT/SIGTERM asks it to stop after the current step (every
rank at the same step, a checkpoint written); a second Ctrl-C (SIGINT) aborts at once. A repeated SIGTERM is
not an abort: schedulers and launchers repeat it (SLURM signals every process of a job step, and torchrun
then forwards its own SIGTERM to its workers), and the graceful stop under way is what they asked for."""

from __future__ import annotations

import signal
import sys


class StopFlag:
    """Turns the first SIGINT/SIGTERM into a request to stop after the current step; a second SIGINT aborts."""

    def __init__(self):
        self.signum: int | None = None
        self._previous = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now (the last checkpoint on disk is complete)
            return  # a repeated SIGTERM: the stop is already under way
        self.signum = signum
        print(
            f"\n{signal.Signals(signum).name} received: finishing this step and checkpointing "
            f"(Ctrl-C again aborts at once)",
            file=sys.stderr,
            flush=True,
        )

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
