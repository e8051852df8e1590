"""The health monitor: each failure named from constructed evidence, reported once it holds and again only
after it cleared, and end to end: a run with ignored codes says so on the console, in metrics.jsonl and in
evaluate's report, and --stop-on-failure stops it checkpointed."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY, blob_images

from infogan.checkpoint import load_checkpoint
from infogan.cli import main
from infogan.model.latent import LatentSpec
from infogan.train import health


class ConstantGenerator(torch.nn.Module):
    """One image whatever the latent: a collapsed G."""

    def __init__(self, spec, image):
        super().__init__()
        self.spec, self.image = spec, torch.nn.Parameter(image)

    def forward(self, latent_vector):
        return self.image.expand(latent_vector.shape[0], *self.image.shape)


class CodeGenerator(torch.nn.Module):
    """Images whose first pixels are the continuous codes: varied, every code visible; and still learning:
    its images' brightness flips at each call in training mode (where the monitor measures G's change), so
    they move from one check to the next."""

    def __init__(self, spec):
        super().__init__()
        self.spec, self.scale, self.calls = spec, torch.nn.Parameter(torch.ones(())), 0

    def forward(self, latent_vector):
        n = latent_vector.shape[0]
        image = torch.zeros(n, 1, 8, 8)
        image.view(n, -1)[:, : latent_vector.shape[1]] = 3 * latent_vector * self.scale
        if self.training:
            self.calls += 1
            image += 0.5 * (-1) ** self.calls
        return image


class Reader(torch.nn.Module):
    """Q reading continuous code i from pixel `offset + i` (or nothing, `blind`)."""

    def __init__(self, offset, blind=False):
        super().__init__()
        self.offset, self.blind, self.w = offset, blind, torch.nn.Parameter(torch.ones(()))

    def forward(self, images):
        from types import SimpleNamespace

        flat = images.flatten(1)
        mean = torch.zeros(len(flat), 2) if self.blind else flat[:, self.offset : self.offset + 2] * self.w
        return SimpleNamespace(cont_mean=mean)


SPEC = LatentSpec(noise_dim=3, categorical=(4,), continuous=2)
REAL = torch.from_numpy(blob_images(64, 8)[0]).unsqueeze(1)
HEALTHY = {"d_acc_real": 0.7, "d_acc_fake": 0.6, "g_loss": 1.0, "mi_bound": 1.2}


def monitor(total_steps=1000):
    return health.HealthMonitor(SPEC, REAL, total_steps)


def look(m, step, record, gen, reader):
    """What training does at an interval record: measure G's batch into the record, then judge it."""
    return m.check({"step": step, **record, **m.measure(gen, reader, step)})


def test_each_failure_is_named_from_its_evidence():
    gen, reader = CodeGenerator(SPEC), Reader(offset=3 + 4)  # codes after the noise and the one-hot
    m = monitor()
    for step in (100, 200):  # (the warm-up of 1,000 steps is 100: every failure is judged)
        assert look(m, step, HEALTHY, gen, reader) == []  # healthy: nothing, ever
    m = monitor()  # D far ahead, but G's loss near 1 (the seed's recipe, learning): not a failure
    ahead = {**HEALTHY, "d_acc_real": 0.97, "d_acc_fake": 0.97, "g_loss": 0.95}
    assert look(m, 100, ahead, gen, reader) == [] and look(m, 110, ahead, gen, reader) == []
    wins = {**HEALTHY, "d_acc_real": 0.93, "d_acc_fake": 0.92, "g_loss": 3.5}  # and G paying for it
    assert look(m, 120, wins, gen, reader) == []  # once is a blip
    [found] = look(m, 130, {**wins, "g_loss": 4.1}, gen, reader)
    assert (found.failure, found.step, found.evidence) == (
        "d_wins",
        130,
        {"d_acc_real": 0.93, "d_acc_fake": 0.92, "g_loss": 4.1},
    )
    m = monitor()  # losses exploded but finite (lr D 10 on MNIST: d_loss 9233): diverged, by name
    exploded = {**HEALTHY, "d_loss": 9233.1, "g_loss": 31419.6}
    look(m, 20, exploded, gen, reader)
    [found] = look(m, 30, exploded, gen, reader)
    assert (found.failure, found.evidence) == ("diverged", {"d_loss": 9233.1, "g_loss": 31419.6})
    collapsed = ConstantGenerator(SPEC, torch.zeros(1, 8, 8))
    m = monitor()
    look(m, 100, HEALTHY, collapsed, reader)
    found = {f.failure: f for f in look(m, 150, HEALTHY, collapsed, reader)}
    assert found["collapse"].evidence["diversity_vs_real"] == 0.0  # (its codes are lost too: code_ignored)


def test_a_generator_that_stopped_changing_is_named_from_the_second_check():
    frozen, reader = ConstantGenerator(SPEC, torch.zeros(1, 8, 8)), Reader(offset=7)
    m = monitor(total_steps=100_000)  # a warm-up of 10,000 steps: g_stalled does not wait for it
    first = m.measure(frozen, reader, 10)
    assert set(first) == {"g_diversity", "q_correlation_cont1", "q_correlation_cont2"}  # nothing to compare yet
    assert m.check({"step": 10, **HEALTHY, **first}) == []
    assert look(m, 20, HEALTHY, frozen, reader) == []  # once is a blip
    [found] = look(m, 30, HEALTHY, frozen, reader)
    assert (found.failure, found.step, found.evidence) == ("g_stalled", 30, {"g_change": 0.0})
    m, moving = monitor(total_steps=100_000), CodeGenerator(SPEC)
    for step in (10, 20, 30, 40):
        measured = m.measure(moving, reader, step)
        assert m.check({"step": step, **HEALTHY, **measured}) == []
    assert measured["g_change"] > 10 * health.STALLED_CHANGE  # each pixel by 1 over 10 steps


def test_g_change_is_a_function_of_gs_weights_alone():
    """BatchNorm's running statistics follow the training batches, so a frozen G's images in eval mode
    move between checks; the change is measured with the fixed batch's own statistics, and is zero."""
    torch.manual_seed(0)
    gen = torch.nn.Sequential(
        torch.nn.Linear(SPEC.input_dim, 64), torch.nn.BatchNorm1d(64), torch.nn.Unflatten(1, (1, 8, 8))
    )
    m, reader, measured = monitor(), Reader(offset=7), []
    for step in (10, 20, 30):
        with torch.no_grad():
            for _ in range(10):  # training steps that leave the weights as they were
                gen(torch.randn(32, SPEC.input_dim) * 3 + 1)
        kept = {k: v.clone() for k, v in gen.state_dict().items()}
        measured.append(m.measure(gen, reader, step))
        assert gen.training and all(torch.equal(v, gen.state_dict()[k]) for k, v in kept.items())  # untouched
    assert [r.get("g_change") for r in measured] == [None, 0.0, 0.0]
    assert measured[0]["g_diversity"] != measured[1]["g_diversity"]  # what eval mode shows did move


def test_the_monitors_state_survives_a_checkpoint(tmp_path):
    """Resumed, the monitor judges as the uninterrupted one: G's change against the last measure before the
    checkpoint, and an alarm already reported is not raised again."""
    wins = {**HEALTHY, "d_acc_real": 1.0, "d_acc_fake": 1.0, "g_loss": 5.0}
    gen, split_gen, reader = CodeGenerator(SPEC), CodeGenerator(SPEC), Reader(offset=7)
    straight, split = monitor(), monitor()
    for step in (10, 20):
        look(straight, step, wins, gen, reader)
        look(split, step, wins, split_gen, reader)
    torch.save(split.state_dict(), tmp_path / "health.pt")
    resumed = monitor()
    resumed.load_state_dict(torch.load(tmp_path / "health.pt", weights_only=True))
    resumed_gen = CodeGenerator(SPEC)
    resumed_gen.calls = gen.calls
    a, b = straight.measure(gen, reader, 30), resumed.measure(resumed_gen, reader, 30)
    assert "g_change" in b and a == b
    assert straight.check({"step": 30, **wins, **a}) == resumed.check({"step": 30, **wins, **b}) == []  # reported
    kept = split.state_dict()
    for damage in (
        {"last_images": [1.0]},
        {"last_images": torch.full((64, 1), math.nan)},
        {"streak": [["d_wins", "", "2"]]},
        {"reported": [[1, ""]]},
    ):
        fresh = monitor()
        with pytest.raises(TypeError):  # refused at once, the monitor left fresh (training goes on with it)
            fresh.load_state_dict({**kept, **damage})
        assert fresh.last is None and fresh.streak == {} and fresh.reported == set()


def test_ignored_codes_are_judged_after_the_warm_up_and_named():
    gen = CodeGenerator(SPEC)
    flat = {**HEALTHY, "mi_bound": 0.01}  # categorical code 1 at the floor (ln 4 = 1.39)
    m = monitor(total_steps=5_000)  # warm-up: 10% = 500 steps
    assert look(m, 100, flat, gen, Reader(0, blind=True)) == []
    assert look(m, 499, flat, gen, Reader(0, blind=True)) == []
    look(m, 500, flat, gen, Reader(0, blind=True))
    found = look(m, 600, flat, gen, Reader(0, blind=True))
    assert sorted(f.subject for f in found) == ["categorical 1", "continuous 1", "continuous 2"]
    assert all(f.failure == "code_ignored" for f in found)


def test_a_failure_is_reported_once_and_again_after_it_cleared():
    gen, reader = CodeGenerator(SPEC), Reader(offset=7)
    wins = {**HEALTHY, "d_acc_real": 1.0, "d_acc_fake": 1.0, "g_loss": 5.0}
    m = monitor()
    reports = [
        len(look(m, s, record, gen, reader))
        for s, record in enumerate([wins, wins, wins, wins, HEALTHY, wins, wins], start=1)
    ]
    assert reports == [0, 1, 0, 0, 0, 0, 1]


def test_the_line_and_the_record_say_what_to_try():
    finding = health.Finding("d_wins", 120, {"d_acc_real": 0.988, "d_acc_fake": 0.983})
    assert finding.line().startswith("health: d_wins at step 120: d_acc_real 0.988, d_acc_fake 0.983; try a lower")
    record = finding.record(epoch=2)
    assert record["kind"] == "health" and record["advice"] == health.ADVICE["d_wins"] and record["epoch"] == 2


@pytest.fixture(scope="session")  # with its users in one xdist group: trained once, not once per worker
def blind_run(tmp_path_factory):
    """A run whose information weights are 0: Q learns nothing, so every code is ignored."""
    root = tmp_path_factory.mktemp("health")
    x, y = blob_images(256, 8)
    np.savez(root / "d.npz", x=x, y=y)
    tiny = [a if a != "2" else "20" for a in TINY]  # 20 epochs of 16 steps (320), a record every 4 steps
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{root / 'd.npz'}",
                "--outdir",
                str(root / "run"),
                *tiny,
                "--categorical-weight",
                "0",
                "--continuous-weight",
                "0",
                "--log-every",
                "4",
            ]
        )
        == 0
    )
    return root, root / "run"


@pytest.mark.xdist_group("blind-run")
def test_a_run_with_ignored_codes_says_so(blind_run, capsys):
    root, run = blind_run
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    found = [r for r in records if r["kind"] == "health"]
    subjects = {r["subject"] for r in found if r["failure"] == "code_ignored"}
    assert subjects == {"categorical 1", "continuous 1", "continuous 2"}
    first = min(r["step"] for r in found if r["failure"] == "code_ignored")
    assert first <= 0.2 * 320  # within the first 20% of its steps
    assert main(["evaluate", str(run)]) == 0
    report = json.loads((run / "eval" / "npz-d.json").read_text())
    assert {h["subject"] for h in report["health"] if h["failure"] == "code_ignored"} == subjects


def test_a_healthy_tiny_run_reports_no_failure(tmp_path):
    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    assert main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--outdir", str(tmp_path / "run"), *TINY]) == 0
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    assert (
        json.loads((tmp_path / "run" / "eval" / "npz-d.json").read_text())["health"]
        == "no failure detected during training"
    )


@pytest.mark.xdist_group("blind-run")
def test_stop_on_failure_checkpoints_and_stops(blind_run, tmp_path, capsys):
    root, _ = blind_run
    run = tmp_path / "stopped"
    tiny = [a if a != "2" else "20" for a in TINY]
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{root / 'd.npz'}",
                "--outdir",
                str(run),
                *tiny,
                "--log-every",
                "4",
                "--categorical-weight",
                "0",
                "--continuous-weight",
                "0",
                "--stop-on-failure",
            ]
        )
        == 3
    )
    err = capsys.readouterr().err
    assert "health: code_ignored" in err and "stopped at step" in err and "--resume" in err
    step = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
    found = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"health"' in line]
    assert step == found[0]["step"] < 320 and not (run / "generator.safetensors").exists()


def test_the_catalogues_noise_only_generator_is_blind_to_its_codes_and_is_named(tmp_path):
    # benchmarks/health_archs.py adds the catalogue's two made-to-fail networks to the table of architectures
    # and runs the CLI: the noise-only G must draw the same image whatever its codes, and its run must say
    # `code_ignored` for every code within its first 20% of steps
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import health_archs
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    spec = LatentSpec(noise_dim=4, categorical=(4,), continuous=2)
    blind = health_archs.noise_only_g(spec, 1, 8, 8).eval()
    codes = torch.randn(5, spec.input_dim)
    recoded = torch.cat([codes[:, :4], torch.randn(5, spec.input_dim - 4)], 1)  # same noise, other codes
    assert torch.equal(blind(codes), blind(recoded))
    assert health_archs.small_g(spec, 1, 8, 8)(torch.randn(3, spec.input_dim)).shape == (3, 1, 8, 8)

    x, y = blob_images(256, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    tiny = [a if a != "2" else "20" for a in TINY]  # 20 epochs of 16 steps (320), a record every 4 steps
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "health_archs.py"),
            "train",
            "--dataset",
            f"npz:{tmp_path / 'd.npz'}",
            "--outdir",
            str(tmp_path / "run"),
            *tiny,
            "--log-every",
            "4",
            "--arch",
            "noise-only-g",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines() if '"health"' in line
    ]
    assert {r["subject"] for r in found if r["failure"] == "code_ignored"} == {
        "categorical 1",
        "continuous 1",
        "continuous 2",
    }
    steps = 20 * (256 // 16)
    assert min(r["step"] for r in found if r["failure"] == "code_ignored") <= 0.2 * steps
    assert "health: code_ignored" in proc.stderr
