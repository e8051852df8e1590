"""The shapes data set (dSprites-like, rendered here) and the original dSprites reader."""

import numpy as np
import pytest

from infogan.data import datasets as data
from infogan.data import shapes
from infogan.errors import UsageError


def test_factor_grids_and_size():
    for size, positions in ((64, 32), (32, 16)):
        grid = shapes.factor_grid(size)
        assert grid.shape == (3 * 6 * 40 * positions * positions, 5)
        assert len(np.unique(grid, axis=0)) == len(grid)  # every combination once
    values = shapes.factor_values(64)
    assert np.allclose(values["scale"], np.linspace(0.5, 1, 6)) and len(values["orientation"]) == 40
    assert values["orientation"].max() < 2 * np.pi and 0 < values["pos_x"].min() < values["pos_x"].max() < 1


def test_rendering_is_deterministic_and_every_factor_changes_the_image():
    base = np.array([[1, 3, 5, 7, 9]])
    a, b = shapes.render(base, 32), shapes.render(base, 32)
    assert np.array_equal(a, b) and a.dtype == np.uint8 and a.max() == 255 and a.min() == 0
    for factor in range(5):
        other = base.copy()
        other[0, factor] += 1
        assert not np.array_equal(shapes.render(other, 32), a), shapes.FACTOR_NAMES[factor]


def test_x_moves_columns_and_y_moves_rows():
    images = shapes.render(np.array([[0, 5, 0, 0, 0], [0, 5, 0, 15, 0], [0, 5, 0, 0, 15]]), 32)
    cols = [np.average(np.arange(32), weights=im.sum(0)) for im in images]
    rows = [np.average(np.arange(32), weights=im.sum(1)) for im in images]
    assert cols[1] - cols[0] == pytest.approx(15, abs=0.01) and rows[1] == pytest.approx(rows[0], abs=0.01)
    assert rows[2] - rows[0] == pytest.approx(15, abs=0.01) and cols[2] == pytest.approx(cols[0], abs=0.01)


def test_the_built_set_matches_single_renders_and_is_cached(tmp_path):
    d = data.load_dataset("shapes:32", tmp_path)
    assert d.images.shape == (184320, 1, 32, 32) and list(d.factors) == list(shapes.FACTOR_NAMES)
    grid = shapes.factor_grid(32)
    for i in (0, 12345, 184319):
        assert np.array_equal(d.images[i, 0].numpy(), shapes.render(grid[i : i + 1], 32)[0])
        assert [int(d.factors[n][i]) for n in shapes.FACTOR_NAMES] == grid[i].tolist()
    assert (tmp_path / "shapes" / "shapes_32.npz").exists()
    again = data.load_dataset("SHAPES:32", tmp_path)  # from the cache
    assert np.array_equal(again.images[::997].numpy(), d.images[::997].numpy())
    with pytest.raises(UsageError, match="one of 64, 32"):
        data.load_dataset("shapes:48", tmp_path)


def test_dsprites_reads_its_arrays_and_never_its_pickled_metadata(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 2, (10, 64, 64), dtype=np.uint8)
    classes = np.concatenate([np.zeros((10, 1), int), rng.integers(0, 3, (10, 5))], 1)
    metadata = np.array([{"anything": object}], dtype=object)  # a pickle, as in the real file
    np.savez(tmp_path / "dsprites.npz", imgs=imgs, latents_classes=classes, metadata=metadata)
    d = data.load_dataset(f"dsprites:{tmp_path / 'dsprites.npz'}")
    assert d.images.shape == (10, 1, 64, 64) and int(d.images.max()) == 255
    assert list(d.factors) == list(shapes.FACTOR_NAMES)
    assert np.array_equal(d.factors["pos_y"].numpy(), classes[:, 5]) and np.array_equal(d.labels.numpy(), classes[:, 1])
