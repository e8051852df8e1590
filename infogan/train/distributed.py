"""Data-parallel training across processes with PyTorch's own engine (torchrun + DistributedDataParallel).

    torchrun --nproc_per_node=N -m infogan train ...            # one machine, N processes (GPUs)
    torchrun --nnodes=2 --node_rank=R --rdzv_backend=c10d --rdzv_endpoint=HOST:PORT --nproc_per_node=N \\
        -m infogan train ...                                    # several machines

Semantics: `--batch-size` is the *global* batch; each of the W processes takes a disjoint 1/W slice of
every batch of the same global permutation, so an epoch has the same number of steps as a single process
and the same images per step. Gradients are averaged by DDP; BatchNorm statistics are per process (rank 0's
running statistics are broadcast each forward). Each rank draws its own latents. Only rank 0 writes the
run directory; checkpoints carry every rank's RNG state, so a resume with the same number of processes is
exact. The backend is NCCL on CUDA and gloo on CPU.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from infogan.errors import UsageError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Dist()


def from_environment(use_cuda: bool, timeout_seconds: float = 600) -> Dist:
    """Join the process group torchrun describes in the environment; a plain process gets SINGLE.

    `timeout_seconds` bounds every collective: a rank whose peer stopped answering (killed, frozen, its
    machine gone) fails its collective after that long instead of PyTorch's default of 30 minutes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    if not torch_dist.is_initialized():
        backend, timeout = "nccl" if use_cuda else "gloo", datetime.timedelta(seconds=timeout_seconds)
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT")
        if restart is None:
            torch_dist.init_process_group(backend=backend, timeout=timeout)
        else:  # torchrun: each restart of the group gets keys of its own in the launcher's store; with shared
            # keys a restarted gloo group can read a killed worker's address from an earlier attempt and hang in
            # connectFullMesh ("Connection refused") until the timeout.
            store, rank, world = next(torch_dist.rendezvous("env://", timeout=timeout))
            torch_dist.init_process_group(
                backend=backend,
                timeout=timeout,
                rank=rank,
                world_size=world,
                store=torch_dist.PrefixStore(f"infogan/attempt_{restart}/", store),
            )
    return Dist(torch_dist.get_rank(), torch_dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def shutdown(dist: Dist, completed: bool = False) -> None:
    """Leave the process group. After a completed run every rank first waits for the others at a barrier:
    a rank that tears its group down while a peer still talks to it can abort that peer (SIGABRT,
    "terminate called without an active exception", now and then in 2-rank CPU runs)."""
    if dist.enabled and torch_dist.is_initialized():
        if completed:
            torch_dist.barrier()
        torch_dist.destroy_process_group()


class PeerLost(Exception):
    """A collective failed: a peer rank died, froze or became unreachable (or --dist-timeout passed)."""


def lost_ranks(dist: Dist, tag: str, wait_seconds: float = 5.0) -> list[int] | None:
    """After a failed collective: which ranks are gone. Each survivor checks in on the launcher's store
    (torchrun's rendezvous store outlives its workers); ranks that have not checked in within
    `wait_seconds` are named lost. None when the store cannot be reached."""
    try:
        store = torch_dist.distributed_c10d._get_default_store()  # PyTorch has no public accessor
        store.set(f"{tag}/survivor/{dist.rank}", "1")
        deadline = time.monotonic() + wait_seconds
        while True:
            missing = [r for r in range(dist.world) if not store.check([f"{tag}/survivor/{r}"])]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.2)
    except Exception:  # the store went with the launcher, or this PyTorch has no such accessor
        return None


def mean_(tensor: torch.Tensor, dist: Dist) -> torch.Tensor:
    """In-place average over ranks (a no-op for one process)."""
    if dist.enabled:
        torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
        tensor /= dist.world
    return tensor


def any_rank(flag: bool, dist: Dist, device) -> bool:
    """True on every rank if it is true on any (used so all ranks stop at the same step)."""
    if not dist.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    torch_dist.all_reduce(t, op=torch_dist.ReduceOp.MAX)
    return bool(t.item())


def gather(obj, dist: Dist) -> list:
    """Every rank's `obj`, in rank order, on every rank."""
    if not dist.enabled:
        return [obj]
    out = [None] * dist.world
    torch_dist.all_gather_object(out, obj)
    return out


def broadcast(obj, dist: Dist):
    """Rank 0's `obj` on every rank."""
    if not dist.enabled:
        return obj
    box = [obj]
    torch_dist.broadcast_object_list(box, src=0)
    return box[0]


def parameter_digest(*modules: torch.nn.Module) -> str:
    """SHA-256 over every trainable parameter: equal digests mean bit-identical weights.

    BatchNorm running statistics are left out: each rank updates them from its own slice of the batch, and
    DDP overwrites them with rank 0's at every forward (rank 0's are the ones checkpointed).
    """
    h = hashlib.sha256()
    for module in modules:
        for name, tensor in module.named_parameters():
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def on_main(dist: Dist, action):
    """Run `action` on rank 0 only and hand its result (or its UsageError) to every rank."""
    result = None
    if dist.is_main:
        try:
            result = ("ok", action())
        except UsageError as exc:
            result = ("error", str(exc))
    status, value = broadcast(result, dist)
    if status == "error":
        raise UsageError(value)
    return value


def replica_report(modules, dist: Dist) -> dict | None:
    """Under DDP (collective): each rank's parameter digest, and whether they are all the same; else None."""
    digests = gather(parameter_digest(*modules), dist)
    if not dist.enabled:
        return None
    return {
        "world_size": dist.world,
        "backend": torch_dist.get_backend(),
        "parameter_sha256_per_rank": digests,
        "identical": len(set(digests)) == 1,
    }
