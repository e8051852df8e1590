"""`infogan export` writes a model card (README.md) from the run's own files: the command that trains the same
model, the scores of its evaluations, what each code does, the names, and how to load it."""

import dataclasses
import json
import shlex
import shutil

import pytest

from infogan.cli import build_parser, main
from infogan.cli.commands import _train_fields
from infogan.config import TrainConfig, resolve
from infogan.data.datasets import source_of
from infogan.serve.card import COMMAND_FIELDS, data_name, training_command


@pytest.mark.parametrize(
    "fields",
    [
        dict(dataset="mnist-sample", epochs=36, batch_size=64, seed=3, precision="bf16"),
        dict(dataset="mnist-sample", preset="mnist", epochs=5, seed=1, precision="fp32", continuous=3),
        dict(
            dataset="mnist-sample", iic_weight=2.0, iic_shear=0.3, effects_weight=1.0, learn_std=True, precision="fp32"
        ),
        dict(
            dataset="npz:/home/someone/my digits.npz",
            categorical=[],
            noise_prior="normal",
            beta1=0.4,
            lr_schedule="cosine",
            lr_final=0.2,
            code_prior_weight=0.5,
            precision="fp32",
        ),
    ],
    ids=["recipe", "paper", "iic-parts", "every-other-choice"],
)
def test_the_cards_command_trains_the_same_config(fields):
    """The command on the card, parsed by the CLI and resolved, gives the run's config back in every field that
    says how it trains (a weight given alone would turn IIC's parts off: the card must not write one alone)."""
    shape = (1, 28, 28)
    cfg = resolve(TrainConfig(**fields), shape, source_of(fields["dataset"]).preset)
    argv = shlex.split(training_command(cfg))
    assert argv[:2] == ["infogan", "train"]
    parsed = TrainConfig(**_train_fields(build_parser().parse_args(argv[1:])))
    parsed = resolve(parsed, shape, source_of(parsed.dataset).preset)
    where_and_how_logged = {"data_dir", "outdir", "threads", "device", "cuda_graphs", "log_every", "eval_every",
                            "eval_dataset", "checkpoint_every", "image_metrics", "image_metrics_every",
                            "image_metrics_samples", "inception_weights", "keep_every", "tensorboard", "progress",
                            "stop_on_failure", "dist_timeout", "image_shape", "run_id"}  # fmt: skip
    training = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in where_and_how_logged]
    assert set(COMMAND_FIELDS) == set(training)
    for name in training:
        want = data_name(cfg.dataset) if name == "dataset" else getattr(cfg, name)  # the card names no home folder
        assert getattr(parsed, name) == want, name


def test_export_writes_the_card_with_scores_effects_and_names(finished_tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_tiny_run, run)
    assert main(["evaluate", str(run)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert main(["name", str(run), "0=north", "1=south"]) == 0
    out = tmp_path / "exported"
    assert main(["export", str(run), "--out", str(out)]) == 0
    card = (out / "README.md").read_text()
    assert f"categorical accuracy {report['categorical_accuracy']:.3f}" in card
    for effect in report["continuous_effects"]:
        assert f"code {effect['code']}: slant rho {effect['slant_spearman']:+.2f}" in card
    assert "- code 1: 0 = north, 1 = south" in card and (out / "names.json").is_file()
    assert "infogan train --dataset npz:d.npz" in card and str(tmp_path) not in card.split("## Use")[0]
    assert f'load_generator("{out}")' in card
    # the exported folder is a run every command reads, names included
    assert main(["generate", str(out), "--label", "south", "-n", "2", "--out", str(tmp_path / "s.png")]) == 0


def test_the_shipped_model_carries_a_card_made_as_export_makes_one():
    """infogan/pretrained/mnist/README.md is tools/shipped_card.py's output: the training command derived from
    its config, and its names, as model_card writes them (its scores come from an evaluation run by the tool)."""
    from infogan.config import TrainConfig
    from infogan.serve.card import model_card, training_command
    from infogan.serve.names import load_names
    from infogan.serve.pretrained import resolve_run

    run = resolve_run("pretrained:mnist")
    card = (run / "README.md").read_text()
    cfg = TrainConfig.load(run / "config.json")
    assert f"    {training_command(cfg)}\n" in card
    made = model_card(run, cfg, "pretrained:mnist", load_names("pretrained:mnist"), reports=[])
    scores_cut = lambda text: text.split("## Scores")[0] + text.split("## Names")[1]  # noqa: E731
    assert scores_cut(card) == scores_cut(made)
    assert "On held-out `mnist-sample` (1000 images):" in card
