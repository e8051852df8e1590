"""Training: from a config to a finished run directory.

- launch.py: `train()` and `resume()`, what starts or continues a run (one process or torchrun).
- loop.py: the `Trainer`, its epoch loop and per-epoch work; outcomes.py: how a run ends early (interrupted,
  diverged, failing); run_state.py: what its checkpoint holds and how it is restored.
- step.py: one step as phases (D/Q, H, G), each an optimiser; loss.py: each phase's loss and its backward.
- state.py, stats.py, display.py: the networks and optimisers, the running sums of the statistics, and how
  each statistic is shown.
- runtime.py: device, precision and threads; checkpoint.py (top level) the file format.
- rundir.py, runlock.py, signals.py: the run directory, its lock, and stop requests.
- distributed.py, cuda_graphs.py, schedule.py, health.py: DDP, captured steps, learning-rate schedules,
  and the monitor that names a failing run.
"""
