"""The command line: the seed's main.py, help texts, and bad flags (exit 2, one line, nothing lost)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, TINY, assert_picture, write_mnist_files

import main as seed_main
from infogan.cli import build_parser, main


def test_seed_flags_translate_with_seed_defaults():
    assert seed_main.translate([]) == [
        "train",
        "--dataset",
        "mnist",
        "--batch-size",
        "256",
        "--epochs",
        "50",
        "--noise-dim",
        "62",
        "--continuous-weight",
        "0.5",
    ]
    out = seed_main.translate(["--dataset", "CIFAR10", "--noise_dim", "64", "--outdir", "x/y/"])
    assert out == [
        "train",
        "--dataset",
        "cifar10",
        "--batch-size",
        "256",
        "--epochs",
        "150",
        "--noise-dim",
        "64",
        "--continuous-weight",
        "1.0",
        "--outdir",
        "x/y",
    ]
    out = seed_main.translate(["--dataset", "mnist", "--epochs", "3", "--continuous_weight", "2", "--batch_size", "8"])
    assert out[out.index("--epochs") + 1] == "3" and out[out.index("--batch-size") + 1] == "8"
    assert out[out.index("--continuous-weight") + 1] == "2.0"


def test_seed_main_runs_the_same_training(tmp_path):
    """`python main.py --dataset MNIST ...` with the seed's flags trains on MNIST files from the data dir."""
    write_mnist_files(tmp_path / "data" / "mnist", n_train=32)
    env = {**os.environ, "INFOGAN_DATA": str(tmp_path / "data")}
    cmd = [
        sys.executable,
        str(ROOT / "main.py"),
        "--dataset",
        "MNIST",
        "--epochs",
        "1",
        "--noise_dim",
        "8",
        "--continuous_weight",
        "0.25",
        "--batch_size",
        "16",
        "--outdir",
        str(tmp_path / "seedrun") + "/",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((tmp_path / "seedrun" / "config.json").read_text())
    assert (cfg["dataset"], cfg["epochs"], cfg["noise_dim"], cfg["continuous_weight"], cfg["batch_size"]) == (
        "mnist",
        1,
        8,
        0.25,
        16,
    )
    assert_picture(tmp_path / "seedrun" / "samples" / "epoch_0001.png")


def test_seed_main_help_and_bad_dataset():
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], capture_output=True, text=True)
    for flag in ("--dataset", "--epochs", "--noise_dim", "--continuous_weight", "--batch_size", "--outdir"):
        assert flag in proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--dataset", "SVHN"], capture_output=True, text=True)
    assert proc.returncode == 2 and "MNIST, CIFAR10 or mnist-sample" in proc.stderr and "Traceback" not in proc.stderr


def test_every_option_of_every_command_states_its_default():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(commands) == {
        "train",
        "evaluate",
        "encode",
        "name",
        "generate",
        "traverse",
        "sweep",
        "explore",
        "classifier",
        "export",
    }
    commands = {**commands, "classifier train": commands["classifier"]._subparsers._group_actions[0].choices["train"]}
    for name, parser in commands.items():
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert "default" in (action.help or "") or "required" in (action.help or ""), (
                    name,
                    action.option_strings,
                )


def test_both_spellings_are_accepted():
    train_parser = build_parser()._subparsers._group_actions[0].choices["train"]
    a = train_parser.parse_args(["--noise-dim", "5", "--batch_size", "7", "--continuous_weight", "0.1"])
    b = train_parser.parse_args(["--noise_dim", "5", "--batch-size", "7", "--continuous-weight", "0.1"])
    assert vars(a) == vars(b) and a.noise_dim == 5 and a.batch_size == 7


@pytest.mark.parametrize(
    "args,message",
    [
        (["--epochs", "0"], "--epochs must be an integer >= 1"),
        (["--epochs", "-3"], "--epochs must be an integer >= 1"),
        (["--batch-size", "0"], "--batch-size must be an integer >= 2"),
        (["--noise-dim", "0"], "--noise-dim must be an integer >= 1"),
        (["--categories", "1"], "--categorical: each code needs 2..1000 values"),
        (["--continuous-weight", "nan"], "--continuous-weight must be a finite number"),
        (["--epochs", "many"], "invalid int value"),
        (["--arch", "resnet"], "invalid choice"),
        (["--dataset", "imagenet"], "unknown data set"),
        (["--batch-size", "1000"], "larger than the data set"),
        (["--precision", "fp16", "--device", "cpu"], "fp16 needs a CUDA GPU"),
        (["--bogus"], "unrecognized arguments"),
        (["--resume", "/nonexistent/run"], "no such run directory"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, tiny_npz, capsys, args, message):
    base = ["train", "--dataset", f"npz:{tiny_npz}", "--outdir", str(tmp_path / "run"), *TINY]
    if "--resume" in args:
        base = ["train"]
    with pytest.raises(SystemExit) as exited:
        sys.exit(main(base + args))
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_console_script_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "infogan", "train", "--epochs", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--epochs must be" in proc.stderr and "Traceback" not in proc.stderr
