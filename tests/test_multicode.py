"""Several categorical codes end to end: training pictures, statistics, generate / traverse / evaluate, the
explorer API, presets, the metrics that match factors to codes, and SVHN's .mat files."""

import hashlib
import json
import math

import numpy as np
import pytest
import torch
from conftest import CHROMIUM, assert_picture, browser_page, needs, serve_folder, two_factor_images, two_factor_run
from PIL import Image

from infogan.checkpoint import load_checkpoint, save_checkpoint
from infogan.cli import main
from infogan.data import datasets as data
from infogan.data import formats
from infogan.errors import UsageError
from infogan.metrics import codes as metrics

MULTI = [
    "--batch-size",
    "16",
    "--epochs",
    "1",
    "--noise-dim",
    "4",
    "--categorical",
    "10,10",
    "--continuous",
    "2",
    "--no-progress",
    "--log-every",
    "2",
]


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory):
    return two_factor_run(tmp_path_factory.mktemp("multi"), MULTI)


def size(path):
    with Image.open(path) as img:
        return img.size


def test_run_writes_every_picture_and_per_code_statistics(multi_run):
    _, run = multi_run
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["categorical"] == [10, 10] and cfg["continuous"] == 2 and "categories" not in cfg
    cell = 8 + 2  # 8-pixel-high images, 2-pixel padding
    assert size(run / "samples" / "epoch_0001.png") == (10 * (16 + 2) + 2, 10 * cell + 2)  # rows: code 1's values
    assert size(run / "traversals" / "categorical_2.png") == (10 * (16 + 2) + 2, 10 * cell + 2)  # columns: code 2
    for code in (1, 2):
        assert size(run / "traversals" / f"continuous_{code}.png") == (10 * (16 + 2) + 2, 10 * cell + 2)
    assert not (run / "traversals" / "categorical_1.png").exists()  # code 1 is the sample grid's rows
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in records if r["kind"] in ("epoch", "interval")]
    for r in records:
        assert all(math.isfinite(r[k]) for k in ("mi_bound_cat1", "mi_bound_cat2", "cat_loss_cat1", "cat_loss_cat2"))
        assert math.isclose(r["mi_bound"], r["mi_bound_cat1"] + r["mi_bound_cat2"], rel_tol=1e-4, abs_tol=1e-5)
        assert math.isclose(r["cat_loss"], r["cat_loss_cat1"] + r["cat_loss_cat2"], rel_tol=1e-4, abs_tol=1e-5)
        assert r["mi_bound"] <= 2 * math.log(10) + 1e-5
    epoch = [r for r in records if r["kind"] == "epoch"][-1]
    # the per-epoch scores are evaluate's, of the final weights, on the 64 training images (fewer than 2,000)
    from infogan.data.datasets import load_dataset
    from infogan.metrics.codes import code_scores, q_on_real
    from infogan.serve.encode import load_encoder

    data = load_dataset(cfg["dataset"])
    scores = code_scores(q_on_real(load_encoder(run), data.images), {k: v.numpy() for k, v in data.factors.items()})
    assert epoch["best_code"] == scores["best_code"]
    assert epoch["categorical_accuracy_y2"] == scores["factors"]["y2"]["categorical_accuracy"]
    assert epoch["categorical_accuracy"] == scores["categorical_accuracy"]
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["stat_names"] == list(records[0])[3 : 3 + len(ckpt["stat_names"])]  # the names, in logged order


def test_generate_sets_any_code(multi_run, tmp_path):
    _, run = multi_run

    def draw(*flags):
        out = tmp_path / "g.png"
        assert main(["generate", str(run), "-n", "4", "--seed", "1", *flags, "--out", str(out)]) == 0
        with Image.open(out) as img:
            return np.asarray(img).copy()

    base = draw("--category", "3", "--category", "2=7")
    assert np.array_equal(base, draw("--category", "1=3", "--category", "2=7"))  # K is code 1's value
    assert not np.array_equal(base, draw("--category", "3", "--category", "2=0"))  # code 2 changes the images


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--category", "3=1"], "this run has categorical codes 1..2"),
        (["--category", "2=10"], "code 2 takes values 0..9"),
        (["--category", "x=1"], "expected K (code 1's value) or N=K"),
    ],
)
def test_generate_bad_category_is_one_line(multi_run, tmp_path, capsys, flags, message):
    _, run = multi_run
    try:
        status = main(["generate", str(run), *flags, "--out", str(tmp_path / "g.png")])
    except SystemExit as exc:  # argparse's own errors exit from inside the parser
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "g.png").exists()


def test_traverse_a_categorical_code(multi_run, tmp_path, capsys):
    _, run = multi_run
    out = tmp_path / "t.png"
    assert main(["traverse", str(run), "--categorical-code", "2", "--rows", "3", "--out", str(out)]) == 0
    assert size(out) == (10 * 18 + 2, 3 * 10 + 2)  # 10 values of code 2 across, 3 noise rows down
    assert main(["traverse", str(run), "--categorical-code", "3", "--out", str(out)]) == 2
    assert main(["traverse", str(run), "--code", "1", "--categorical-code", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "must be in 1..2" in err and "name one code to traverse" in err


def test_evaluate_scores_every_code_against_every_factor(multi_run):
    root, run = multi_run
    assert main(["evaluate", str(run)]) == 0
    report = json.loads((run / "eval" / "npz-pairs.json").read_text())
    assert report["categorical"] == [10, 10]
    assert [c["code"] for c in report["per_code"]] == [1, 2]
    assert all(set(c["labels"]) == {"y", "y2"} for c in report["per_code"])
    assert set(report["factors"]) == {"y", "y2"}
    best = report["factors"]["y"]
    assert (
        report["categorical_accuracy"]
        == best["categorical_accuracy"]
        == max(c["labels"]["y"]["categorical_accuracy"] for c in report["per_code"])
    )
    assert report["best_code"] == best["best_code"]
    assert len(report["category_histogram"]) == 2 and all(sum(h) == 64 for h in report["category_histogram"])
    assert len(report["mutual_information_bound_per_code"]) == 2
    assert math.isclose(report["mutual_information_bound"], sum(report["mutual_information_bound_per_code"]))
    with Image.open(run / "eval" / "confusion.png") as img:
        assert img.size == (600, 500)  # the 6 x 5 inch, 100 dpi figure
    # MIG is the mean of the factors' gaps; both scores are the package's functions on Q's reading of the data
    assert [r["factor"] for r in report["mig_per_factor"]] == ["y", "y2"]
    assert report["mig"] == pytest.approx(np.mean([r["gap"] for r in report["mig_per_factor"]]))
    from infogan.data.datasets import load_dataset
    from infogan.metrics.disentanglement import disentanglement_report, q_codes
    from infogan.serve.encode import load_encoder

    data = load_dataset(f"npz:{root / 'pairs.npz'}")
    expected = disentanglement_report(
        *q_codes(load_encoder(run), data.images), {k: v.numpy() for k, v in data.factors.items()}
    )
    assert (report["mig"], report["factorvae_score"]) == (expected["mig"], expected["factorvae_score"])


def test_code_scores_match_each_factor_to_its_code():
    """Constructed Q: code 1 reads factor y2 exactly, code 2 reads y exactly, code 3 reads nothing."""
    rng = np.random.default_rng(0)
    y, y2 = rng.integers(0, 4, 400), rng.integers(0, 4, 400)

    def onehot(v):
        return torch.nn.functional.one_hot(torch.from_numpy((v + 1) % 4), 4).float()  # renamed categories

    probs = [onehot(y2), onehot(y), torch.full((400, 4), 0.25)]
    out = metrics.code_scores(probs, {"y": y, "y2": y2})
    assert out["factors"]["y"]["best_code"] == 2 and out["factors"]["y2"]["best_code"] == 1
    assert out["factors"]["y"]["categorical_accuracy"] == 1.0 and out["categorical_accuracy"] == 1.0
    cross = out["per_code"][0]["labels"]["y"]["categorical_accuracy"]  # code 1 against the other factor
    assert cross < 0.4  # chance is about 0.25 + the best matching's small gain
    assert out["per_code"][2]["q_real_mi"] == pytest.approx(0, abs=1e-6)
    # two perfect codes read the entropy of their factor's empirical distribution; the blind one nothing
    entropy = [-(p * np.log(p)).sum() for p in (np.bincount(v) / len(v) for v in (y, y2))]
    assert out["q_real_mi"] == pytest.approx(sum(entropy), abs=1e-4)


def test_explorer_api_with_several_codes(multi_run):
    needs("fastapi", reason="the explorer's extra (fastapi) is not installed")
    from fastapi.testclient import TestClient

    from infogan.serve.explorer import create_app

    _, run = multi_run
    client = TestClient(create_app(run))
    info = client.get("/api/info").json()
    assert info["categorical"] == [10, 10] and info["categories"] == 10 and info["continuous"] == 2
    a = client.get("/api/generate", params={"cat1": 3, "cat2": 7, "seed": 2})
    b = client.get("/api/generate", params={"category": 3, "cat2": 7, "seed": 2})
    c = client.get("/api/generate", params={"cat1": 3, "cat2": 0, "seed": 2})
    assert a.status_code == b.status_code == c.status_code == 200
    assert a.content == b.content != c.content
    strip = client.get("/api/categories", params={"code": 2, "cat1": 5})
    assert strip.status_code == 200
    with Image.open(__import__("io").BytesIO(strip.content)) as img:
        assert img.size == (10 * 16, 8)  # one sample per value of code 2, no padding
    for params, message in (
        ({"cat3": 1}, "2 categorical code(s)"),
        ({"cat2": 10}, "code 2 takes values 0..9"),
        ({"category": 1, "cat1": 2}, "disagree"),
    ):
        r = client.get("/api/generate", params=params)
        assert r.status_code == 422 and message in r.text
    assert client.get("/api/categories", params={"code": 3}).status_code == 422


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's Chromium (/usr/bin/chromium) is not installed")
def test_browser_shows_a_row_of_buttons_per_code(multi_run, tmp_path):
    from infogan.serve.explorer import create_app

    _, run = multi_run
    with browser_page(create_app(run)) as (page, url):
        page.goto(url)
        page.wait_for_function("document.getElementById('image').dataset.query !== undefined")
        assert page.locator(".cats").count() == 2 and page.locator(".cats button").count() == 20
        page.locator(".cats").nth(1).locator("button").nth(7).click()  # code 2 = 7
        page.wait_for_function("document.getElementById('image').dataset.query.includes('cat2=7')")
        assert "cat1=0" in page.eval_on_selector("#image", "e => e.dataset.query")
        assert page.locator("#error").inner_text() == ""


def test_preset_fills_the_paper_model_and_flags_override(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, (32, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "c.npz", x=x)
    out = tmp_path / "svhn"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'c.npz'}",
                "--preset",
                "svhn",
                "--outdir",
                str(out),
                "--batch-size",
                "8",
                "--epochs",
                "1",
                "--noise-dim",
                "6",
                "--no-progress",
            ]
        )
        == 0
    )
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["preset"] == "svhn" and cfg["arch"] == "paper-svhn" and cfg["categorical"] == [10, 10, 10, 10]
    assert cfg["continuous"] == 4 and cfg["noise_dim"] == 6 and cfg["batch_size"] == 8  # flags win
    assert_picture(out / "traversals" / "categorical_4.png")
    assert_picture(out / "traversals" / "continuous_4.png")


def test_no_categorical_code_trains(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, (32, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "g.npz", x=x)
    out = tmp_path / "faces"
    assert (
        main(
            [
                "train",
                "--dataset",
                f"npz:{tmp_path / 'g.npz'}",
                "--categorical",
                "",
                "--continuous",
                "3",
                "--outdir",
                str(out),
                "--batch-size",
                "8",
                "--epochs",
                "1",
                "--noise-dim",
                "4",
                "--no-progress",
            ]
        )
        == 0
    )
    record = [
        json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"kind": "epoch"' in line
    ][-1]
    assert record["mi_bound"] == 0 and record["cat_loss"] == 0 and math.isfinite(record["cont_loss"])
    assert size(out / "samples" / "epoch_0001.png") == (10 * 10 + 2, 10 * 10 + 2)  # 10x10 free draws
    assert main(["evaluate", str(out)]) == 0


def test_resume_refuses_running_sums_of_another_layout(multi_run, tmp_path, capsys):
    import shutil

    _, run = multi_run
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    ckpt = load_checkpoint(copy / "checkpoints" / "last.pt")
    ckpt["stat_names"] = ckpt["stat_names"][:-1] + ["something_else"]
    save_checkpoint(copy / "checkpoints" / "last.pt", {k: v for k, v in ckpt.items() if k != "format"})
    before = (copy / "metrics.jsonl").read_bytes()
    assert main(["train", "--resume", str(copy), "--epochs", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "running sums" in err and "something_else" in err and "Traceback" not in err
    assert (copy / "metrics.jsonl").read_bytes() == before  # refused before anything was written


# ---------------------------------------------------------------- SVHN
def write_svhn_mat(path, n: int, seed: int = 0) -> np.ndarray:
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)  # 10 stands for the digit 0
    y[0] = 10
    savemat(path, {"X": x, "y": y})
    return x


def test_svhn_mat_is_parsed(tmp_path):
    x = write_svhn_mat(tmp_path / "train_32x32.mat", 6)
    d = formats.read_svhn_mat(tmp_path / "train_32x32.mat")
    assert d.images.shape == (6, 3, 32, 32) and d.images.dtype == torch.uint8
    assert np.array_equal(d.images[2].permute(1, 2, 0).numpy(), x[:, :, :, 2])  # pixel order kept
    assert d.labels[0] == 0 and 0 <= int(d.labels.min()) and int(d.labels.max()) <= 9


@pytest.mark.parametrize("content,message", [(b"not a mat file", "cannot read"), (None, "does not hold SVHN")])
def test_bad_svhn_file_is_named(tmp_path, content, message):
    path = tmp_path / "train_32x32.mat"
    if content is None:
        from scipy.io import savemat

        savemat(path, {"X": np.zeros((4, 4), dtype=np.float64)})
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        formats.read_svhn_mat(path)


def test_svhn_download_from_a_local_mirror(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    for split, n in (("train", 5), ("test", 3)):
        write_svhn_mat(served / f"{split}_32x32.mat", n)
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in served.iterdir()}
    monkeypatch.setattr(formats, "SVHN_FILES", hashes)
    with serve_folder(served) as url:
        monkeypatch.setattr(formats, "SVHN_MIRRORS", [url])
        assert len(data.load_dataset("svhn", tmp_path / "cache")) == 5
        assert len(data.load_dataset("svhn", tmp_path / "cache", split="test")) == 3
    assert (tmp_path / "cache" / "svhn" / "train_32x32.mat").exists()
    assert data.evaluation_split("SVHN") == "test"


def test_svhn_offline_is_the_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "SVHN_MIRRORS", ["http://127.0.0.1:9/"])
    with pytest.raises(UsageError, match="could not download SVHN file train_32x32.mat"):
        data.load_dataset("svhn", tmp_path)


def test_npz_with_several_label_arrays(tmp_path):
    x, y, y2 = two_factor_images(10)
    np.savez(tmp_path / "p.npz", x=x, y=y, y2=y2, y10=y)
    d = data.load_dataset(f"npz:{tmp_path / 'p.npz'}")
    assert list(d.factors) == ["y", "y2", "y10"] and torch.equal(d.factors["y2"], torch.from_numpy(y2.astype(np.int64)))
    np.savez(tmp_path / "q.npz", x=x, y2=y2)
    with pytest.raises(UsageError, match="no 'y'"):
        data.load_dataset(f"npz:{tmp_path / 'q.npz'}")
