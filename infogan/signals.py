"""Signals a training run answers: the first SIGINT/SIGTERM asks it to stop after the current step (every
rank at the same step, a checkpoint written), a second one aborts at once."""

from __future__ import annotations

import signal
import sys


class StopFlag:
    """Turns the first SIGINT/SIGTERM into a request to stop after the current step; a second one aborts."""

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
            raise KeyboardInterrupt  # second signal: stop now (the last checkpoint on disk is complete)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name} received: finishing this step and checkpointing "
              f"(send it again to abort at once)", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
