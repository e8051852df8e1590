"""--lr-schedule: the factor's shape, the rates a run actually trains at, an interrupted run that resumes
on the same schedule, the refusals, and CUDA graphs stepping aside."""

import json
import signal
import sys

import pytest
import torch
from conftest import TINY

from infogan import config
from infogan.checkpoint import load_checkpoint
from infogan.cli import main
from infogan.train import schedule
from infogan.train.cuda_graphs import unsupported_reason
from infogan.train.loop import Trainer


def test_the_factor_starts_at_one_and_ends_at_final():
    for name in ("cosine", "linear"):
        assert schedule.lr_factor(name, 0, 101, 0.1) == 1.0
        assert schedule.lr_factor(name, 100, 101, 0.1) == pytest.approx(0.1)
        assert schedule.lr_factor(name, 500, 101, 0.1) == pytest.approx(0.1)  # past the end: the last rate
        steps = [schedule.lr_factor(name, s, 101, 0.1) for s in range(101)]
        assert all(a > b for a, b in zip(steps, steps[1:]))  # strictly decreasing
    assert schedule.lr_factor("cosine", 50, 101, 0.1) == pytest.approx(0.55)  # half-way: the mean of 1 and 0.1
    assert schedule.lr_factor("linear", 25, 101, 0.2) == pytest.approx(0.8)
    assert schedule.lr_factor("cosine", 10, 101, 0.1) > schedule.lr_factor("linear", 10, 101, 0.1)  # flat start
    assert {schedule.lr_factor("constant", s, 101, 0.1) for s in (0, 50, 100)} == {1.0}
    assert schedule.lr_factor("cosine", 0, 1, 0.1) == 1.0  # a one-step run keeps its rates
    assert schedule.SCHEDULES == config.LR_SCHEDULES


def _epochs(run):
    return [
        json.loads(line)
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "epoch"
    ]


def test_a_run_trains_at_the_scheduled_rates(tmp_path, tiny_npz):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tiny_npz}",
                "--outdir",
                str(run),
                *TINY,
                "--epochs",
                "3",
                "--lr-schedule",
                "cosine",
                "--lr-final",
                "0.2",
                "--lr-g",
                "1e-3",
                "--lr-d",
                "2e-4",
            ]
        )
        == 0
    )
    # 64 images, batch 16: 4 steps an epoch, 12 in all; each epoch's factor is its last step's
    factors = [r["lr_factor"] for r in _epochs(run)]
    assert factors == pytest.approx([schedule.lr_factor("cosine", s, 12, 0.2) for s in (3, 7, 11)])
    assert factors[-1] == pytest.approx(0.2)
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * 0.2)  # the last step's rates
    assert ckpt["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * 0.2)
    assert ckpt["opt_d"]["param_groups"][1]["lr"] == pytest.approx(1e-3 * 0.2)  # Q's head, at G's rate
    # the default keeps the paper's constant rates and says nothing of a factor
    plain = tmp_path / "plain"
    assert main(["train", "--dataset", f"npz:{tiny_npz}", "--outdir", str(plain), *TINY]) == 0
    assert all("lr_factor" not in r for r in _epochs(plain))
    assert load_checkpoint(plain / "checkpoints" / "last.pt")["opt_g"]["param_groups"][0]["lr"] == 1e-3


def test_an_interrupted_run_resumes_on_the_same_schedule(tmp_path, tiny_npz, monkeypatch):
    """Stopped by SIGTERM's flag at step 6 of 8 and resumed: the weights equal those of the straight run
    (they did not while the schedule held the group dicts that the optimiser's load_state_dict replaces)."""
    base = ["train", "--dataset", f"npz:{tiny_npz}", *TINY, "--lr-schedule", "linear", "--lr-final", "0.1"]
    assert main([*base, "--outdir", str(tmp_path / "straight")]) == 0
    original = Trainer._after_step

    def signal_at_step_6(self, stop, bar):
        if self.progress.step == 6:
            stop.signum = signal.SIGTERM  # what StopFlag's handler does when the signal arrives
        return original(self, stop, bar)

    monkeypatch.setattr(Trainer, "_after_step", signal_at_step_6)
    assert main([*base, "--outdir", str(tmp_path / "split")]) != 0
    monkeypatch.setattr(Trainer, "_after_step", original)
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["step"] == 6
    assert main(["train", "--resume", str(tmp_path / "split"), "--no-progress"]) == 0
    a, b = (load_checkpoint(tmp_path / name / "checkpoints" / "last.pt") for name in ("straight", "split"))
    assert a["step"] == b["step"] == 8
    for key in ("generator", "discriminator"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    assert a["opt_g"]["param_groups"][0]["lr"] == b["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr-schedule", "cosine", "--lr-final", "0"], "--lr-final must be in (0, 1]"),
        (["--lr-schedule", "linear", "--lr-final", "1.5"], "--lr-final must be in (0, 1]"),
        (["--lr-schedule", "cosine", "--lr-final", "nan"], "--lr-final"),
        (["--lr-schedule", "step"], "invalid choice"),
        (["--lr-final", "0.2"], "add --lr-schedule cosine or linear, or drop --lr-final"),  # would do nothing
        (["--lr-schedule", "constant", "--lr-final", "0.2"], "these rates are constant"),
    ],
)
def test_bad_schedules_exit_2_with_one_line(tmp_path, tiny_npz, capsys, args, message):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exited:
        sys.exit(main(["train", "--dataset", f"npz:{tiny_npz}", "--outdir", str(out), *TINY, *args]))
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_cuda_graphs_step_aside_for_a_schedule():
    reason = unsupported_reason("cuda", False, False, scheduled=True)
    assert reason is not None and "--lr-schedule" in reason
    assert unsupported_reason("cuda", False, False) is None
