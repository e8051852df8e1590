"""Names for a run's categories from labelled images: Q reads each image (serve/encode.py), and each category
takes the label the accuracy metric's one-to-one matching gives it (metrics/codes.py). Stored with the run by
serve/names.py, which also takes names given by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infogan.data.datasets import evaluation_split, load_dataset
from infogan.errors import UsageError
from infogan.metrics.codes import categorical_accuracy
from infogan.serve.encode import check_shape, encode, load_encoder
from infogan.serve.names import Names, load_names, parse_assignments, save_names


def names_from_labels(categories: np.ndarray, labels: np.ndarray) -> dict[int, str]:
    """Each category's name: the label the accuracy metric's matching gives it; a category matched to a label
    none of its images carries (or never read) keeps no name."""
    matching = categorical_accuracy(categories, labels)["matching"]
    return {c: str(y) for c, y in matching.items() if np.any((categories == c) & (labels == y))}


def name_run(
    run_dir: str, assignments: list[str], dataset: str | None, code: int = 1, data_dir: str | None = None
) -> tuple[Path, Names]:
    """`infogan name`: names from labelled images (Q's categories matched to their labels) or by hand, merged
    over the run's names so far; written to the run; returns where, and all its names."""
    encoder = load_encoder(run_dir)
    categorical = encoder.spec.categorical
    if not categorical:
        raise UsageError(f"{run_dir} has no categorical code to name")
    if bool(assignments) == (dataset is not None):
        raise UsageError("name the categories from labelled images (--dataset SPEC) or by hand (K=NAME ...): one")
    names = load_names(run_dir)
    if dataset is not None:
        if not 1 <= code <= len(categorical):
            raise UsageError(f"--code must be in 1..{len(categorical)} (this run's categorical codes), got {code}")
        cfg = encoder.cfg
        data = load_dataset(dataset, data_dir or cfg.data_dir, evaluation_split(dataset), *cfg.folder_options())
        if data.labels is None:
            raise UsageError(
                f"{dataset} has no labels to name the categories by: give a labelled data set (npz with y)"
            )
        check_shape(encoder, tuple(data.shape), f"the images of {dataset}")
        read = encode(encoder, data.images).categories[:, code - 1].numpy()
        names[code] = names_from_labels(read, data.labels.numpy())
        source = f"labels of {dataset}"
    else:
        for given_code, per in parse_assignments(assignments, categorical).items():
            names.setdefault(given_code, {}).update(per)
        source = "given by hand"
    for code_named, per in names.items():
        if len(set(per.values())) < len(per):
            raise UsageError(f"two categories of code {code_named} would have the same name: give each its own")
    return save_names(run_dir, names, source), names
