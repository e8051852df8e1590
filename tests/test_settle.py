"""--stop-when-settled: the label-free stop rule (train/settle.py) judged by hand, a run that ends on it, and a
resumed run that ends where an uninterrupted one does."""

import json
import re

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file

from infogan.checkpoint import load_checkpoint
from infogan.cli import main
from infogan.config import TrainConfig
from infogan.errors import UsageError
from infogan.model.architectures import DOutput
from infogan.model.latent import LatentSpec, QCodes
from infogan.train import settle

TIMING = re.compile(r"seconds$|images_per_sec$")


class ScriptedQ(torch.nn.Module):
    """Q of 4 categories whose answer on every image is set by hand: `categories` [N] (confident)."""

    def __init__(self, n: int):
        super().__init__()
        self.spec = LatentSpec(noise_dim=2, categorical=(4,), continuous=0)
        self.weight = torch.nn.Parameter(torch.zeros(1))  # a parameter, for the device q_on_real reads
        self.categories = torch.zeros(n, dtype=torch.long)
        self.seen = 0

    def forward(self, x):
        chosen = self.categories[self.seen : self.seen + len(x)]
        self.seen = (self.seen + len(x)) % len(self.categories)
        logits = torch.nn.functional.one_hot(chosen, 4).float() * 20  # [B, 4]
        return DOutput(torch.zeros(len(x)), QCodes([logits], torch.zeros(len(x), 0), None))


def test_the_watch_stops_after_patience_settled_epochs_and_not_before_min_epochs():
    n = 200
    q = ScriptedQ(n)
    q.categories = torch.arange(n) % 4  # balanced: the same information every epoch it holds
    watch = settle.SettleWatch(torch.zeros(n, 1, 8, 8, dtype=torch.uint8), min_epochs=5)
    stops = []
    for epoch in range(1, 9):
        if epoch == 3:  # 3% of the images change category: the streak starts again
            q.categories = q.categories.clone()
            q.categories[:6] = (q.categories[:6] + 1) % 4
        if epoch == 4:  # 1%: settled
            q.categories = q.categories.clone()
            q.categories[:2] = (q.categories[:2] + 1) % 4
        stops.append(watch.judge(q, epoch))
        if epoch == 3:
            assert watch.last["settle_changed"] == pytest.approx(0.03) and watch.last["settle_streak"] == 0
    # epoch 1: nothing to compare with; 2: settled; 3: reset; 4, 5, 6: settled three in a row
    assert stops == [False, False, False, False, False, True, True, True]
    late = settle.SettleWatch(torch.zeros(n, 1, 8, 8, dtype=torch.uint8), min_epochs=7)
    late.categories, late.mi, late.streak = q.categories.clone(), watch.mi, 5
    assert not late.judge(q, 6) and late.judge(q, 7)  # settled long since, but not before --min-epochs


def test_information_that_still_moves_is_not_settled():
    n = 400
    q = ScriptedQ(n)
    q.categories = torch.arange(n) % 4
    watch = settle.SettleWatch(torch.zeros(n, 1, 8, 8, dtype=torch.uint8), min_epochs=0)
    watch.judge(q, 1)
    q.categories = torch.where(torch.arange(n) < 6, 0, q.categories)  # 1.1% changed, all to category 0
    watch.judge(q, 2)
    assert watch.last["settle_changed"] <= settle.CHANGED_AT_MOST and watch.streak == 1
    q.categories = torch.where(torch.arange(n) < 8, 0, q.categories)  # few change, yet the information moves
    watch.mi += 0.05
    watch.judge(q, 3)
    assert watch.streak == 0


@pytest.fixture
def settles_at_once(monkeypatch):
    """Every epoch after the first counts as settled: the run's end then depends on PATIENCE and --min-epochs."""
    monkeypatch.setattr(settle, "CHANGED_AT_MOST", 1.0)
    monkeypatch.setattr(settle, "MI_MOVED_AT_MOST", float("inf"))


def _stripped(path):
    return [{k: v for k, v in json.loads(l).items() if not TIMING.search(k)} for l in path.read_text().splitlines()]


def test_a_run_stops_when_settled_says_why_and_resumes_to_the_same_end(tmp_path, tiny_npz, settles_at_once, capsys):
    base = ["--dataset", f"npz:{tiny_npz}", *TINY, "--stop-when-settled", "--min-epochs", "5"]
    assert main(["train", *base, "--epochs", "9", "--outdir", str(tmp_path / "straight")]) == 0
    out = capsys.readouterr().out
    assert "stopped after epoch 5 of 9: settled" in out and "epoch 6/9" not in out
    ckpt = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 5 and ckpt["settled_at"] == 5 and ckpt["settle"]["streak"] == 4
    epochs = [r for r in _stripped(tmp_path / "straight" / "metrics.jsonl") if r["kind"] == "epoch"]
    assert [r["settle_streak"] for r in epochs] == [0, 1, 2, 3, 4]
    # stopped at epoch 3 (as a kill would), then resumed with the first run's --epochs: it ends at 5 too
    assert main(["train", *base, "--epochs", "3", "--outdir", str(tmp_path / "split")]) == 0
    assert main(["train", "--resume", str(tmp_path / "split"), "--epochs", "9", "--no-progress"]) == 0
    a = load_file(str(tmp_path / "straight" / "generator.safetensors"))
    b = load_file(str(tmp_path / "split" / "generator.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _stripped(tmp_path / "straight" / "metrics.jsonl") == _stripped(tmp_path / "split" / "metrics.jsonl")
    # a settled run resumed trains no further
    assert main(["train", "--resume", str(tmp_path / "straight"), "--epochs", "12", "--no-progress"]) == 0
    assert load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["step"] == ckpt["step"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"stop_when_settled": True, "categorical": []}, "--stop-when-settled needs a categorical code"),
        ({"min_epochs": 3}, "--min-epochs bounds --stop-when-settled, which is 0 (off)"),
        ({"stop_when_settled": True, "min_epochs": -1}, "--min-epochs must be an integer >= 0"),
    ],
)
def test_bad_settings_are_refused(fields, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        TrainConfig(**fields).validate()


def test_replaying_a_runs_measures_stops_where_the_watch_stopped():
    """stop_epoch, which judges the rule on finished runs' records, agrees with the watch epoch by epoch."""
    n = 100
    q = ScriptedQ(n)
    watch = settle.SettleWatch(torch.zeros(n, 1, 8, 8, dtype=torch.uint8), min_epochs=6)
    gen = torch.Generator().manual_seed(4)
    changed, mi, stopped = [], [], None
    for epoch in range(1, 15):
        flips = torch.rand(n, generator=gen) < (0.2 if epoch < 5 else 0.01)  # settling from epoch 5 on
        q.categories = torch.where(flips, (q.categories + 1) % 4, q.categories)
        if watch.judge(q, epoch) and stopped is None:
            stopped = epoch
        changed.append(watch.last["settle_changed"])
        mi.append(watch.mi)
    assert stopped is not None and settle.stop_epoch(changed, mi, min_epochs=6) == stopped
    assert settle.stop_epoch(changed[: stopped - 1], mi[: stopped - 1], min_epochs=6) is None
