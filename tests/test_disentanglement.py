"""MIG and the FactorVAE score against constructed encoders with known answers."""

import itertools

import numpy as np
import pytest

from infogan.metrics.disentanglement import disentanglement_report, factorvae_score, mig


def grid(sizes=(3, 4, 5), repeat=20):
    """Every combination of the factors once, repeated: [N, K] integer labels."""
    return np.array(list(itertools.product(*[range(s) for s in sizes])) * repeat)


@pytest.mark.parametrize("discrete", [True, False])
def test_a_perfect_encoder_scores_one(discrete):
    factors = grid()
    codes = factors.astype(float)
    out = mig(codes, [discrete] * 3, factors)
    assert out["mig"] == pytest.approx(1.0)
    assert [f["best_code"] for f in out["mig_per_factor"]] == [1, 2, 3]
    assert factorvae_score(codes, factors)["factorvae_score"] == 1.0


def test_codes_that_ignore_the_images_score_about_chance():
    factors = grid()
    codes = np.random.default_rng(0).normal(size=(len(factors), 3))
    assert mig(codes, [False] * 3, factors)["mig"] < 0.05
    score = factorvae_score(codes, factors)
    assert score["factorvae_score"] < score["factorvae_chance"] + 0.15


def test_a_permuted_and_rescaled_encoder_scores_the_same():
    factors = grid()
    rng = np.random.default_rng(1)
    codes = factors + 0.2 * rng.normal(size=factors.shape)  # noisy but faithful
    permuted = codes[:, [2, 0, 1]] * np.array([3.0, -0.5, 10.0])
    a, b = mig(codes, [False] * 3, factors), mig(permuted, [False] * 3, factors)
    assert a["mig"] == pytest.approx(b["mig"])
    assert factorvae_score(codes, factors)["factorvae_score"] == factorvae_score(permuted, factors)["factorvae_score"]


def test_an_entangled_encoder_scores_low_mig_but_the_report_names_factors_and_codes():
    factors = grid((4, 4))
    mixed = np.stack([factors[:, 0] + factors[:, 1], factors[:, 0] - factors[:, 1]], 1).astype(float)
    assert mig(mixed, [False, False], factors)["mig"] < 0.3
    report = disentanglement_report(factors.astype(float), [True, False], {"y": factors[:, 0], "y2": factors[:, 1]})
    assert [(r["factor"], r["best_code"]) for r in report["mig_per_factor"]] == [
        ("y", "categorical 1"),
        ("y2", "continuous 1"),
    ]


def test_sweep_select_centrality_on_three_tiny_runs(tmp_path, capsys):
    import json

    from conftest import TINY, blob_images

    from infogan.cli import main

    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    assert (
        main(
            [
                "sweep",
                "--seeds",
                "0,1,2",
                "--select",
                "centrality",
                "--dataset",
                f"npz:{tmp_path / 'd.npz'}",
                "--outdir",
                str(tmp_path / "sw"),
                *TINY,
                "--epochs",
                "1",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    sel = json.loads((tmp_path / "sw" / "summary.json").read_text())["selection"]
    assert sel["criterion"] == "centrality" and set(sel["centrality"]) == {"0", "1", "2"}
    # each run's centrality is its mean FactorVAE score as writer and as reader among the other two runs
    pairs = sel["pairwise_factorvae"]
    assert len(pairs) == 6
    for seed, value in sel["centrality"].items():
        assert value == pytest.approx(np.mean([v for k, v in pairs.items() if seed in k.split("->")]))
    assert sel["picked_seed"] == int(max(sel["centrality"], key=sel["centrality"].get))
    assert set(sel["picks"]) == {"q_real_mi", "centrality"}  # reported side by side
    assert "label-free pick (centrality)" in capsys.readouterr().out


def test_a_sweep_of_continuous_codes_only_reports_no_categorical_numbers_and_no_false_pick(tmp_path, capsys):
    import json

    from conftest import TINY, blob_images

    from infogan.cli import main

    x, y = blob_images(64, 8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    common = [
        "--seeds",
        "0,1",
        "--dataset",
        f"npz:{tmp_path / 'd.npz'}",
        *TINY,
        "--categorical",
        "0",
        "--epochs",
        "1",
        "--jobs",
        "1",
    ]
    # asked for explicitly, q_real_mi is refused before anything trains: there is no categorical code to read
    assert main(["sweep", *common, "--select", "q_real_mi", "--outdir", str(tmp_path / "refused")]) == 2
    assert "--select centrality" in capsys.readouterr().err and not (tmp_path / "refused" / "seed_0").exists()
    assert main(["sweep", *common, "--outdir", str(tmp_path / "sw")]) == 0
    summary = json.loads((tmp_path / "sw" / "summary.json").read_text())
    for key in ("q_real_mi", "mutual_information_bound", "categorical_accuracy", "category_histogram"):
        assert key not in summary["runs"]["0"] and key not in summary["metrics"]  # absent, not a measured 0
    assert summary["selection"]["picked_seed"] is None and summary["selection"]["picks"] == {}
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("seed  "))  # the table's columns
    assert "label-free pick: none" in out and "mig" in header and "q_real_mi" not in header
