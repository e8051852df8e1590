"""--cuda-graphs: the captured step computes what the eager step does.

On a machine without CUDA the capture is played by a stand-in whose replay calls the captured function on
the captured inputs (a real capture runs nothing, and neither does the stand-in's): that checks the warm-up,
the static inputs refreshed before every replay, the outputs, the eager fallbacks and the run's choice. The
tests at the end use real CUDA graphs and are skipped where no GPU is visible."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import TINY, blob_images, train_tiny_run

from infogan.cli import main
from infogan.config import TrainConfig, resolve
from infogan.errors import UsageError
from infogan.model.networks import build_networks
from infogan.serve.pictures import read_metrics
from infogan.train.cuda_graphs import CapturedStep, unsupported_reason
from infogan.train.runtime import make_runtime
from infogan.train.state import Nets, make_optimizers, set_capturable
from infogan.train.step import StepRunner
from infogan.train.terms import graph_reasons

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA graphs)")


class ReplayByCalling:
    """A CUDA graph's stand-in: `capture` records the function and runs nothing; `replay` runs it on the
    captured inputs and writes the results into the captured outputs, which keep their identity."""

    def __init__(self, fail: str | None = None):
        self.fail, self.warmups, self.captures, self.replays = fail, 0, 0, 0

    def warmup(self, fn, inputs):
        self.warmups += 1
        return fn(*inputs)

    def capture(self, fn, inputs):
        self.captures += 1
        if self.fail:
            raise RuntimeError(self.fail)
        outputs, backend = {}, self

        class Graph:
            def replay(self):
                backend.replays += 1
                fresh = fn(*inputs)
                if not outputs:
                    outputs.update({k: v.clone() for k, v in fresh.items()})
                for k, v in fresh.items():
                    outputs[k].copy_(v)

        return Graph(), outputs


def _runner(device="cpu", precision="fp32", graphs=False, backend=None, capturable=False, arch="paper-mnist", batch=16):
    cfg = resolve(
        TrainConfig(arch=arch, batch_size=batch, noise_dim=8, precision=precision, device=device, seed=3), (1, 28, 28)
    )
    rt = make_runtime(cfg)
    torch.manual_seed(0)
    gen, disc = (m.to(rt.device) for m in build_networks(cfg.model))
    nets = Nets(gen, disc)
    opts = make_optimizers(cfg, nets, capturable=capturable)
    rng = torch.Generator(rt.device).manual_seed(5)
    return StepRunner(cfg, nets, opts, rt, rng, graphs=graphs, backend=backend), gen, disc


def _batches(n, batch=16, device="cpu"):
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8, generator=g).to(device) for _ in range(n)]


def _run(runner, batches):
    # the loop's habit: read (stack) the statistics before the next step overwrites a graph's outputs
    return [torch.stack([v for _, v in sorted(runner(b, i).items())]) for i, b in enumerate(batches)]


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_captured_step_matches_the_eager_step_exactly():
    backend = ReplayByCalling()
    eager, gen_e, disc_e = _runner()
    graphed, gen_g, disc_g = _runner(graphs=True, backend=backend)
    batches = _batches(8)
    stats_e, stats_g = _run(eager, batches), _run(graphed, batches)
    # 3 eager warm-up steps, one capture that runs nothing, then a replay per step, the capture's own included
    assert (backend.warmups, backend.captures, backend.replays) == (3, 1, 5)
    assert all(torch.equal(a, b) for a, b in zip(stats_e, stats_g))
    assert _same_weights(gen_e, gen_g) and _same_weights(disc_e, disc_g)
    assert torch.equal(eager.latent_rng.get_state(), graphed.latent_rng.get_state())  # the same random stream


def test_replayed_statistics_are_the_graph_outputs_and_change_every_step():
    graphed, _, _ = _runner(graphs=True, backend=ReplayByCalling())
    batches = _batches(6)
    for i, b in enumerate(batches[:4]):
        graphed(b, i)
    first = graphed(batches[4], 4)
    kept = {k: v.clone() for k, v in first.items()}
    second = graphed(batches[5], 5)
    assert second is first  # static outputs, overwritten in place: callers read them before the next step
    assert any(not torch.equal(kept[k], second[k]) for k in kept)


def test_a_batch_of_another_shape_runs_eagerly_and_the_graph_stays():
    backend = ReplayByCalling()
    eager, gen_e, _ = _runner()
    graphed, gen_g, _ = _runner(graphs=True, backend=backend)
    batches = _batches(5) + _batches(1, batch=8) + _batches(1)
    _run(eager, batches)
    _run(graphed, batches)
    assert backend.replays == 3 and backend.captures == 1  # steps 4, 5 and 7 replayed; step 6 (8 images) eager
    assert _same_weights(gen_e, gen_g)


def test_a_failed_capture_says_why_once_and_continues_eagerly(capsys):
    backend = ReplayByCalling(fail="operation not permitted when stream is capturing\nmore detail")
    eager, gen_e, _ = _runner()
    graphed, gen_g, _ = _runner(graphs=True, backend=backend)
    batches = _batches(7)
    assert all(torch.equal(a, b) for a, b in zip(_run(eager, batches), _run(graphed, batches)))
    assert _same_weights(gen_e, gen_g)  # the step of the failed capture ran once, eagerly
    err = capsys.readouterr().err
    assert err.count("could not be captured in a CUDA graph (operation not permitted when stream is capturing)") == 1
    assert "more detail" not in err and backend.captures == 1 and graphed.captured.failed


def test_captured_step_runs_its_warmup_then_captures_once():
    calls = []
    step = CapturedStep(lambda x: {"y": x * 2}, warmup=2, backend=ReplayByCalling())
    for i in range(5):
        calls.append(float(step(torch.tensor(float(i)))["y"]))
    assert calls == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert (step.backend.warmups, step.backend.captures, step.backend.replays) == (2, 1, 3)


def test_which_runs_can_be_captured():
    assert unsupported_reason("cuda", False, False) is None
    assert "CUDA device" in unsupported_reason("cpu", False, False)
    assert "DDP" in unsupported_reason("cuda", True, False)
    assert "fp16" in unsupported_reason("cuda", False, True)
    cr = graph_reasons(resolve(TrainConfig(cr_weight=1.0, preset="mnist"), (1, 28, 28)))
    assert "--cr-weight" in unsupported_reason("cuda", False, False, term_reasons=cr)
    assert graph_reasons(resolve(TrainConfig(preset="mnist"), (1, 28, 28))) == ()  # the paper's objective: none


def test_cuda_graphs_on_without_cuda_is_refused_in_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: the refusal is for machines without one")
    x, y = blob_images(32, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    args = ["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", *TINY]
    assert main([*args, "--outdir", str(tmp_path / "on"), "--cuda-graphs", "on"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--cuda-graphs on: CUDA graphs need a CUDA device" in err
    assert not (tmp_path / "on").exists()
    # auto on a CPU: eager, silently; the choice is saved with the run
    assert main([*args, "--outdir", str(tmp_path / "auto")]) == 0
    assert "CUDA graph" not in capsys.readouterr().err
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["cuda_graphs"] == "auto"
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--outdir", str(tmp_path / "bad"), "--cuda-graphs", "yes"])
    assert exit_.value.code == 2
    with pytest.raises(UsageError, match="--cuda-graphs must be one of auto, on, off"):  # e.g. an edited config.json
        TrainConfig(cuda_graphs="yes").validate()


def test_a_loaded_optimiser_takes_this_runs_capturable_flag():
    """A checkpoint from a GPU run with graphs (capturable Adam) resumes on a CPU, where capturable Adam
    refuses to step."""
    p = torch.nn.Parameter(torch.ones(3))
    saved = torch.optim.Adam([p], foreach=True)
    p.grad = torch.ones(3)
    saved.step()
    state = saved.state_dict()
    state["param_groups"][0]["capturable"] = True  # as a graphed GPU run saves it
    opt = torch.optim.Adam([p], foreach=True)
    opt.load_state_dict(state)
    set_capturable(False, opt)
    opt.step()  # would raise "If capturable=True, params and state_steps must be on supported devices"
    assert opt.param_groups[0]["capturable"] is False and float(opt.state[p]["step"]) == 2.0


# ---------------------------------------------------------------- real CUDA graphs (skipped without a GPU)
@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_real_cuda_graph_step_tracks_the_eager_step(precision):
    eager, gen_e, _ = _runner("cuda", precision, capturable=True)
    graphed, gen_g, _ = _runner("cuda", precision, graphs=True, capturable=True)
    batches = _batches(12, device="cuda")
    stats_e, stats_g = _run(eager, batches), _run(graphed, batches)
    assert graphed.captured.graph is not None and graphed.captured.failed is None
    tol = 1e-3 if precision == "fp32" else 5e-2  # cuDNN may pick other kernels; bf16 rounds coarsely
    for a, b in zip(stats_e, stats_g):
        assert torch.allclose(a, b, rtol=tol, atol=tol), (a, b)
    # G's weights as one vector, not element by element: Adam divides each gradient by its own running scale,
    # so a weight whose gradient is near zero moves by about the learning rate in whichever direction rounding
    # gives it, and a few such weights can differ by 12 x lr between two faithful runs. What must hold is
    # that the two runs moved the weights alike: their difference small against how far the weights moved.
    flat = torch.nn.utils.parameters_to_vector
    start = flat(_runner("cuda", precision, capturable=True)[1].parameters())  # the same initial weights
    eager_w, graphed_w = flat(gen_e.parameters()), flat(gen_g.parameters())
    moved, apart = float((eager_w - start).norm()), float((eager_w - graphed_w).norm())
    assert moved > 0 and apart <= 0.05 * moved, (apart, moved)


@needs_cuda
def test_real_cuda_graph_training_run_and_resume(tmp_path, capsys):
    run = train_tiny_run(tmp_path, extra=("--device", "cuda", "--cuda-graphs", "on"))  # 2 epochs of 4 steps
    assert main(["train", "--resume", str(run), "--epochs", "4", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert out.count("CUDA graphs: the step is captured") == 2 and "could not be captured" not in err
    epochs = read_metrics(run / "metrics.jsonl")
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4] and all(math.isfinite(r["d_loss"]) for r in epochs)


def test_a_phase_that_raises_leaves_no_network_frozen(monkeypatch):
    """A capture that fails inside G's phase (here: the loss raises there) must not leave D frozen: the eager
    steps the run falls back to train D in their next D phase."""
    from conftest import tiny_step

    from infogan.train import step
    from infogan.train.loss import InfoGANLoss
    from infogan.train.runtime import make_runtime

    cfg, nets, opts = tiny_step()
    real_accumulate = InfoGANLoss.accumulate_gradients

    def failing_in_g(self, phase, ctx):
        if phase == "G":
            raise RuntimeError("capture failed")
        return real_accumulate(self, phase, ctx)

    monkeypatch.setattr(InfoGANLoss, "accumulate_gradients", failing_in_g)
    draws = step.draw_step(nets.disc.spec, 16, torch.Generator().manual_seed(0), "cpu", False)
    with pytest.raises(RuntimeError, match="capture failed"):
        step.update_step(cfg, nets, opts, torch.rand(16, 1, 8, 8) * 2 - 1, draws, make_runtime(cfg))
    assert all(p.requires_grad for p in nets.disc.parameters())
    monkeypatch.setattr(InfoGANLoss, "accumulate_gradients", real_accumulate)
    stats = step.update_step(cfg, nets, opts, torch.rand(16, 1, 8, 8) * 2 - 1, draws, make_runtime(cfg))
    assert torch.isfinite(stats["d_loss"])  # the next step's D phase trains D
