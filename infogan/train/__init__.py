"""Training: from a config to a finished run directory.

- launch.py: `train()` and `resume()`, what starts or continues a run (one process or torchrun).
- loop.py: the `Trainer`, its epoch loop and per-epoch work.
- step.py: one step as phases (D/Q, H, G), each an optimiser and its loss; the statistics it reports.
- runtime.py: device, precision and threads; checkpoint.py (top level) the file format.
- rundir.py, runlock.py, signals.py: the run directory, its lock, and stop requests.
- distributed.py, cuda_graphs.py, schedule.py, health.py: DDP, captured steps, learning-rate schedules,
  and the monitor that names a failing run.
"""
