"""`--precision auto` on a CPU with AVX512-BF16 and no AMX: the bf16 matmul gain is measured once per CPU
identity and stored; a corrupt or unwritable store, and a changed core count or torch version, mean measuring
again, never a failed run. (The timing itself is replaced by a counter: what is tested is when it runs.)"""

import json

import pytest
import torch

from infogan.train import runtime


@pytest.fixture
def avx512_bf16_cpu(monkeypatch):
    """A CPU with native bf16 and no AMX whose bf16 matmul 'measures' 2.0x fp32; `calls` counts measurements."""
    calls = []
    monkeypatch.setattr(runtime, "native_bf16", lambda device: True)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    monkeypatch.setattr(runtime, "cpu_bf16_matmul_gain", lambda: calls.append(1) or 2.0)
    return calls


def test_the_gain_is_measured_once_and_then_read(avx512_bf16_cpu, tmp_path):
    first, second = runtime.cpu_bf16_decision(tmp_path), runtime.cpu_bf16_decision(tmp_path)
    assert first[0] is second[0] is True and "measured once" in first[1] and "stored" in second[1]
    assert len(avx512_bf16_cpu) == 1
    assert json.loads((tmp_path / runtime.PRECISION_CACHE).read_text()) == {runtime.cpu_identity(): 2.0}


def test_a_small_gain_means_fp32(monkeypatch, avx512_bf16_cpu, tmp_path):
    (tmp_path / runtime.PRECISION_CACHE).write_text(json.dumps({runtime.cpu_identity(): 1.2}))
    pays, why = runtime.cpu_bf16_decision(tmp_path)
    assert not pays and "1.20x" in why and avx512_bf16_cpu == []


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"other cpu": 3.0}', ""])
def test_a_corrupt_or_foreign_store_is_measured_again_and_rewritten(avx512_bf16_cpu, tmp_path, content):
    path = tmp_path / runtime.PRECISION_CACHE
    path.write_text(content)
    assert runtime.cpu_bf16_decision(tmp_path)[0] is True
    assert len(avx512_bf16_cpu) == 1
    assert json.loads(path.read_text())[runtime.cpu_identity()] == 2.0


def test_an_unwritable_cache_folder_decides_anyway_and_measures_again_next_time(avx512_bf16_cpu, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("in the way")
    assert runtime.cpu_bf16_decision(blocked)[0] is True
    assert runtime.cpu_bf16_decision(blocked)[0] is True
    assert len(avx512_bf16_cpu) == 2 and blocked.read_text() == "in the way"


@pytest.mark.parametrize("change", ["cores", "torch"])
def test_another_core_count_or_torch_version_is_another_identity(monkeypatch, avx512_bf16_cpu, tmp_path, change):
    runtime.cpu_bf16_decision(tmp_path)
    if change == "cores":
        cores = runtime.available_cores()
        monkeypatch.setattr(runtime, "available_cores", lambda: cores + 7)
    else:
        monkeypatch.setattr(torch, "__version__", torch.__version__ + ".other")
    runtime.cpu_bf16_decision(tmp_path)
    assert len(avx512_bf16_cpu) == 2
    assert len(json.loads((tmp_path / runtime.PRECISION_CACHE).read_text())) == 2


def test_no_native_bf16_or_amx_decide_without_measuring(monkeypatch, avx512_bf16_cpu, tmp_path):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"amx_bf16", "amx_tile", "avx512_bf16"})
    assert runtime.cpu_bf16_decision(tmp_path) == (True, "this CPU has AMX (bf16 matrix units)")
    monkeypatch.setattr(runtime, "native_bf16", lambda device: False)
    assert runtime.cpu_bf16_decision(tmp_path)[0] is False
    assert avx512_bf16_cpu == [] and not (tmp_path / runtime.PRECISION_CACHE).exists()


def _rank_decides(rank: int, port: int, answers: list, out: str) -> None:
    """One rank of a two-process gloo group: this rank's own decision would be answers[rank]."""
    import torch.distributed as torch_dist

    from infogan.config import TrainConfig
    from infogan.train.distributed import Dist

    torch_dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        runtime.precision_decision = lambda device: (answers[rank], f"rank {rank}'s own measurement")
        decided = runtime.resolve_precision(TrainConfig(device="cpu"), Dist(rank=rank, world=2))
        with open(f"{out}.{rank}", "w") as fh:
            fh.write(decided)
    finally:
        torch_dist.destroy_process_group()


def test_under_torchrun_rank_0_decides_for_every_rank(tmp_path):
    """Two ranks whose own measurements would disagree (a noisy timing, a different core) both run rank 0's
    answer: ranks that ran different precisions would compute different steps."""
    import socket

    import torch.multiprocessing as mp

    for answers in (["bf16", "fp32"], ["fp32", "bf16"]):
        with socket.socket() as probe:  # a free port for the group's rendezvous
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        mp.spawn(_rank_decides, args=(port, answers, str(tmp_path / "decided")), nprocs=2, join=True)
        assert [(tmp_path / f"decided.{rank}").read_text() for rank in (0, 1)] == [answers[0]] * 2
