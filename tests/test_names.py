"""`infogan name`: names for a run's categories, from labelled images or by hand; `generate --label` and `encode`
use them; a run without names behaves as before; the shipped model carries its own."""

import json

import numpy as np
import pytest

from infogan.cli import main
from infogan.data.datasets import load_dataset
from infogan.metrics.naming import names_from_labels
from infogan.serve.encode import encode, load_encoder
from infogan.serve.names import load_names


def test_names_from_labels_are_the_one_to_one_matching():
    categories = np.array([2, 2, 2, 0, 0, 1, 1, 1, 1])
    labels = np.array([7, 7, 1, 1, 1, 3, 3, 3, 7])
    assert names_from_labels(categories, labels) == {2: "7", 0: "1", 1: "3"}  # 3 never read: no name
    # the matching pairs category 1 with label 6, which none of its images carries: no name rather than a wrong one
    assert names_from_labels(np.array([0, 0, 0, 0, 1]), np.array([5, 5, 5, 6, 5])) == {0: "5"}


def test_naming_from_labels_then_generating_a_named_category(finished_tiny_run, tmp_path, capsys):
    """The tiny run's categories named by its labelled images: each name is the label most of that category's
    images carry (one to one); generate --label NAME draws that category, the same images as --category K."""
    run = tmp_path / "run"
    import shutil

    shutil.copytree(finished_tiny_run, run)
    data = f"npz:{finished_tiny_run.parent / 'd.npz'}"
    assert load_names(run) == {}
    assert main(["name", str(run), "--dataset", data]) == 0
    names = load_names(run)[1]
    images = load_dataset(data)
    read = encode(load_encoder(run), images.images).categories[:, 0].numpy()
    assert names == names_from_labels(read, images.labels.numpy())
    value, label = next(iter(names.items()))
    assert main(["generate", str(run), "--label", label, "-n", "4", "--out", str(tmp_path / "a.png")]) == 0
    assert main(["generate", str(run), "--category", str(value), "-n", "4", "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    # by hand, over the names so far; encode shows them
    assert main(["name", str(run), f"{value}=mine"]) == 0
    assert load_names(run)[1][value] == "mine"
    capsys.readouterr()
    assert main(["encode", str(run), data, "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(line["name"] == load_names(run)[1].get(line["category"], "") for line in lines)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["name", "{run}"], "from labelled images (--dataset SPEC) or by hand"),
        (["name", "{run}", "7=seven"], "code 1 takes values 0..3"),
        (["name", "{run}", "1=a", "2=a"], "the same name"),
        (["name", "{run}", "x=seven"], "expected K=NAME"),
        (["name", "{run}", "2:1=seven"], "categorical codes 1..1"),
        (["name", "{run}", "--dataset", "npz:{nolabels}"], "has no labels"),
        (["generate", "{run}", "--label", "seven", "--out", "{tmp}/g.png"], "has no names"),
    ],
)
def test_name_refusals_are_one_line_and_write_nothing(finished_tiny_run, tmp_path, capsys, argv, message):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_tiny_run, run)
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((4, 8, 8), np.uint8))
    argv = [a.format(run=run, tmp=tmp_path, nolabels=tmp_path / "nolabels.npz") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (run / "names.json").exists()


def test_the_shipped_model_carries_its_names_and_a_users_go_to_the_data_folder(tmp_path):
    """pretrained:mnist's names are the digits (from the bundled labelled digits); names given to it are the
    user's, kept in the data folder, and read from there."""
    shipped = load_names("pretrained:mnist")[1]
    assert sorted(shipped.values()) == [str(d) for d in range(10)]
    assert main(["generate", "pretrained:mnist", "--label", "7", "-n", "2", "--out", str(tmp_path / "7.png")]) == 0
    first = next(k for k, v in shipped.items() if v == "7")
    assert main(["name", "pretrained:mnist", f"{first}=seven"]) == 0
    assert load_names("pretrained:mnist")[1][first] == "seven"


@pytest.mark.parametrize("content", ["{", "[1, 2]", '{"codes": {"1": {"x": "seven"}}}', '{"codes": []}'])
def test_a_damaged_names_file_is_refused_in_one_line_and_kept(finished_tiny_run, tmp_path, capsys, content):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_tiny_run, run)
    (run / "names.json").write_text(content)
    assert main(["generate", str(run), "--label", "seven", "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a names file of infogan's" in err[0], err
    assert (run / "names.json").read_text() == content and not (tmp_path / "g.png").exists()


def test_traversals_of_a_named_run_put_categories_in_name_order_and_label_them(finished_tiny_run, tmp_path):
    """The tiny run (4 categories) named by hand in reverse: a continuous traversal's rows and a categorical
    traversal's columns come in name order, labelled; without names the pictures are as before."""
    import shutil

    import torch
    from PIL import Image

    from infogan.serve.inference import categorical_traversal, continuous_traversal, generate, load_generator

    run = tmp_path / "run"
    shutil.copytree(finished_tiny_run, run)
    gen = load_generator(run)
    plain = continuous_traversal(gen, 1, seed=0)
    assert plain.row_labels is None and categorical_traversal(gen, 1).column_labels is None
    assert main(["traverse", str(run), "--code", "1", "--out", str(tmp_path / "plain.png")]) == 0
    assert main(["name", str(run), "0=d", "1=c", "2=b", "3=a"]) == 0
    names = load_names(run)[1]
    rows = continuous_traversal(gen, 1, seed=0, names=names)
    assert rows.row_labels == ["a", "b", "c", "d"]
    values = torch.linspace(-2, 2, 10)
    expected = generate(
        gen, gen.spec.continuous_traversal(0, values, torch.Generator().manual_seed(0), rows=[3, 2, 1, 0])
    )
    assert torch.equal(rows.images, expected)
    columns = categorical_traversal(gen, 1, seed=0, rows=2, names=names)
    assert columns.column_labels == ["a", "b", "c", "d"]
    assert torch.equal(columns.images[:4], categorical_traversal(gen, 1, seed=0, rows=2).images[:4].flip(0))
    assert main(["traverse", str(run), "--code", "1", "--out", str(tmp_path / "named.png")]) == 0
    with Image.open(tmp_path / "plain.png") as a, Image.open(tmp_path / "named.png") as b:
        assert b.height == a.height and b.width > a.width  # the labels' margin on the left
