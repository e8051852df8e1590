"""The training step as one replayed CUDA graph (`--cuda-graphs`), for GPUs where the step is launch-bound.

A step of these small networks launches several hundred kernels (forward, backward and an Adam update for
D/Q, then for G), so on a fast GPU its time is the launches' whatever the batch, far above its arithmetic
(docs/results.md#gpu).
Captured once in a CUDA graph (torch.cuda.graphs), the whole step is one launch.

How the step stays the same computation:
- Warm-up: the first WARMUP_STEPS steps run eagerly, on a side stream as PyTorch's capture recipe asks, so
  Adam's state, cuBLAS/cuDNN workspaces and the autograd engine's lazy state exist before the capture.
  They are real training steps.
- Capture records the kernels without running them, so no step is lost or run twice: the capture's inputs
  are the next step's inputs, and a replay right after the capture runs that step.
- Static inputs: the uint8 batch and the step's latent draws are copied into the captured buffers before
  each replay. The latents are drawn outside the graph from the run's own generator, exactly as in an eager
  step, so a run's random stream (and its checkpoints' RNG states) does not depend on this option. Dropout
  (the seed-cifar10 D) draws from PyTorch's default CUDA generator, which graph replays advance correctly.
- Outputs: the step's statistics are the captured output tensors, overwritten by the next replay; the
  caller reads (stacks) them before the next call, as the training loop does.
- Adam runs with `capturable=True` (its step count on the device) and autocast without its weight-cast
  cache, both required inside a graph; gradients are set to None at the start of each update, so backward
  allocates them from the graph's private memory pool and every replay writes them afresh.

Not captured (the step runs eagerly, and the run says why): DDP (its all-reduce hooks), fp16 (the
GradScaler's inf check syncs with the host), InfoGAN-CR (G takes the contrastive term only from
--cr-start-step, a branch that would need a second graph), a learning-rate schedule (the captured
optimiser step keeps its rate as a constant), --real-info-until (D's loss changes at that step), --iic-weight
(the real batch's deformations are drawn outside the captured inputs), and any
device but CUDA. A capture that fails
(e.g. an operation a future network adds that cannot be captured) prints why and continues eagerly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch

WARMUP_STEPS = 3  # eager steps before the capture (PyTorch's examples use 3 to 11)
CHOICES = ("auto", "on", "off")


def unsupported_reason(
    device_type: str, distributed: bool, fp16: bool, scheduled: bool = False, term_reasons: tuple[str, ...] = ()
) -> str | None:
    """Why the step of such a run cannot be captured, or None when it can. `term_reasons`: what the
    objective's optional terms say against a capture (terms.Term.graph_reason), the first of them counts."""
    if device_type != "cuda":
        return f"CUDA graphs need a CUDA device (this run is on {device_type})"
    if distributed:
        return "CUDA graphs are not used under DDP (its gradient all-reduce hooks are not captured here)"
    if fp16:
        return "CUDA graphs are not used with --precision fp16 (the GradScaler's inf check syncs with the host)"
    if scheduled:
        return (
            "CUDA graphs are not used with --lr-schedule (a captured Adam keeps the learning rate it was captured with)"
        )
    if term_reasons:
        return f"CUDA graphs are not used with {term_reasons[0]}"
    return None


class CudaBackend:
    """PyTorch's CUDA graph API: the warm-up on a side stream, the capture on the current device."""

    def warmup(self, fn: Callable, inputs: tuple) -> dict:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = fn(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def capture(self, fn: Callable, inputs: tuple):
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outputs = fn(*inputs)
        return graph, outputs


class CapturedStep:
    """Calls `fn(*tensors) -> dict of tensors` eagerly for the first `warmup` calls, then captures it once
    and replays the graph with each call's tensors copied into the captured inputs.

    Every call must pass tensors of the captured shapes and dtypes (a training run's batches do: an epoch
    has only full batches); a call that does not runs eagerly. `backend` is CudaBackend unless a test
    stands in for it."""

    def __init__(self, fn: Callable[..., dict], warmup: int = WARMUP_STEPS, backend=None):
        self.fn, self.warmup = fn, warmup
        self.backend = CudaBackend() if backend is None else backend
        self.calls = 0
        self.graph = None
        self.inputs: tuple[torch.Tensor, ...] = ()
        self.outputs: dict = {}
        self.failed: str | None = None  # why the capture failed (the step then stays eager)

    def __call__(self, *tensors: torch.Tensor) -> dict:
        self.calls += 1
        if self.failed is not None:
            return self.fn(*tensors)
        if self.graph is None:
            if self.calls <= self.warmup:
                return self.backend.warmup(self.fn, tensors)
            if not self._capture(tensors):
                return self.fn(*tensors)
        if not self._fits(tensors):
            return self.fn(*tensors)
        for static, new in zip(self.inputs, tensors):
            static.copy_(new)
        self.graph.replay()
        return self.outputs

    def _capture(self, tensors: tuple) -> bool:
        self.inputs = tuple(t.clone() for t in tensors)  # the graph's static inputs: fixed addresses
        try:
            self.graph, self.outputs = self.backend.capture(self.fn, self.inputs)
        except RuntimeError as exc:  # nothing ran during the failed capture: the step is run eagerly
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.failed, self.graph, self.inputs = first[:300], None, ()
            print(
                f"note: the training step could not be captured in a CUDA graph ({self.failed}); "
                f"it runs eagerly (--cuda-graphs off avoids the attempt)",
                file=sys.stderr,
                flush=True,
            )
            return False
        return True

    def _fits(self, tensors: tuple) -> bool:
        return len(tensors) == len(self.inputs) and all(
            t.shape == s.shape and t.dtype == s.dtype and t.device == s.device for t, s in zip(tensors, self.inputs)
        )
