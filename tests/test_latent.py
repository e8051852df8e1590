import math

import pytest
import torch

from infogan.config import TrainConfig, resolve
from infogan.model.latent import LatentSpec


def spec(**kw):
    return LatentSpec(**{"noise_dim": 5, "categorical": (4,), "continuous": 2, **kw})


def test_priors_ranges_and_vector_layout():
    s = spec()
    lat = s.sample(1000, torch.Generator().manual_seed(0))
    assert lat.z.shape == (1000, 5) and lat.z.abs().max() <= 1  # uniform U(-1, 1)
    assert lat.cont.abs().max() <= 1
    assert lat.cat.shape == (1000, 1) and set(lat.cat[:, 0].tolist()) == {0, 1, 2, 3}
    vec = s.vector(lat)
    assert vec.shape == (1000, 5 + 4 + 2) == (1000, s.input_dim)
    assert torch.equal(vec[:, 5:9].argmax(1), lat.cat[:, 0]) and torch.equal(vec[:, 5:9].sum(1), torch.ones(1000))
    assert torch.equal(vec[:, 9:], lat.cont)
    normal = spec(noise_prior="normal").sample(5000, torch.Generator().manual_seed(0))
    assert normal.z.abs().max() > 2.5  # N(0, 1) has tails beyond U(-1, 1)


def test_several_codes_layout_and_sizes():
    s = spec(categorical=(10, 3, 20), continuous=1, learn_std=True)
    assert s.input_dim == 5 + 33 + 1 and s.q_dim == 33 + 2 and s.n_categorical == 3
    assert math.isclose(s.total_entropy, math.log(10) + math.log(3) + math.log(20))
    lat = s.sample(2000, torch.Generator().manual_seed(1))
    assert lat.cat.shape == (2000, 3)
    for i, k in enumerate((10, 3, 20)):
        assert set(lat.cat[:, i].tolist()) == set(range(k))  # each code uniform over its own values
    vec = s.vector(lat)
    # [z | one-hot 10 | one-hot 3 | one-hot 20 | cont]
    assert torch.equal(vec[:, 5:15].argmax(1), lat.cat[:, 0])
    assert torch.equal(vec[:, 15:18].argmax(1), lat.cat[:, 1])
    assert torch.equal(vec[:, 18:38].argmax(1), lat.cat[:, 2])
    assert torch.equal(vec[:, 38:], lat.cont)


def test_no_categorical_code():
    s = spec(categorical=(), continuous=5)
    lat = s.sample(7, torch.Generator().manual_seed(0))
    assert lat.cat.shape == (7, 0) and s.vector(lat).shape == (7, 10) and s.total_entropy == 0
    assert len(s.grid(torch.Generator().manual_seed(0), columns=10)) == 100  # 10 rows of fresh draws
    assert s.split_q(torch.zeros(7, 5)).cat_logits == []


def test_split_q_cuts_every_code():
    s = spec(categorical=(2, 3), continuous=2, learn_std=True)
    q = torch.arange(2 + 3 + 2 + 2, dtype=torch.float32).repeat(4, 1)
    out = s.split_q(q)
    assert [t[0].tolist() for t in out.cat_logits] == [[0, 1], [2, 3, 4]]
    assert out.cont_mean[0].tolist() == [5, 6] and out.cont_logstd[0].tolist() == [7, 8]
    assert spec(categorical=(2, 3), continuous=2).split_q(q[:, :7]).cont_logstd is None
    with pytest.raises(ValueError, match="needs 7"):
        spec(categorical=(2, 3), continuous=2).split_q(q)


def test_sampling_is_reproducible_per_generator():
    a = spec(categorical=(4, 4)).sample(8, torch.Generator().manual_seed(3))
    b = spec(categorical=(4, 4)).sample(8, torch.Generator().manual_seed(3))
    assert torch.equal(a.z, b.z) and torch.equal(a.cat, b.cat) and torch.equal(a.cont, b.cont)


def test_single_code_draws_match_the_format_before_several_codes():
    """z, then the code, then the continuous codes: the order the single-code sampler drew in."""
    gen = torch.Generator().manual_seed(5)
    lat = spec().sample(6, gen)
    ref = torch.Generator().manual_seed(5)
    z = torch.rand(6, 5, generator=ref) * 2 - 1
    cat = torch.randint(4, (6,), generator=ref)
    cont = torch.rand(6, 2, generator=ref) * 2 - 1
    assert torch.equal(lat.z, z) and torch.equal(lat.cat[:, 0], cat) and torch.equal(lat.cont, cont)


def test_grid_rows_are_code1_values_and_columns_share_everything_else():
    lat = spec(categorical=(4, 3)).grid(torch.Generator().manual_seed(0), columns=3)
    assert lat.cat[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    z, other = lat.z.view(4, 3, 5), lat.cat[:, 1].view(4, 3)
    assert torch.equal(z[0], z[3]) and not torch.equal(z[0, 0], z[0, 1])
    assert torch.equal(other[0], other[3])  # code 2 fixed down a column


def test_continuous_traversal_varies_one_code_with_noise_fixed_per_row():
    values = torch.linspace(-2, 2, 5)
    lat = spec().continuous_traversal(1, values, torch.Generator().manual_seed(0))
    assert len(lat) == 4 * 5
    cont = lat.cont.view(4, 5, 2)
    assert torch.equal(cont[2, :, 1], values) and torch.equal(cont[..., 0], torch.zeros(4, 5))
    z = lat.z.view(4, 5, 5)
    assert torch.equal(z[1, 0], z[1, 4]) and not torch.equal(z[0, 0], z[1, 0])
    assert lat.cat[:, 0].view(4, 5)[:, 0].tolist() == [0, 1, 2, 3]


def test_categorical_traversal_draws_every_value_of_one_code():
    lat = spec(categorical=(4, 3)).categorical_traversal(1, torch.Generator().manual_seed(0), rows=2)
    assert len(lat) == 2 * 3
    assert lat.cat[:, 1].tolist() == [0, 1, 2, 0, 1, 2]
    cat1, z = lat.cat[:, 0].view(2, 3), lat.z.view(2, 3, 5)
    assert (cat1 == cat1[:, :1]).all() and torch.equal(z[0, 0], z[0, 2]) and not torch.equal(z[0, 0], z[1, 0])
    with pytest.raises(ValueError):
        spec().categorical_traversal(1, torch.Generator())


def test_spec_round_trips_through_config_json():
    cfg = resolve(
        TrainConfig(categorical=[10, 10, 4], continuous=3, noise_dim=7, learn_std=True, noise_prior="normal"),
        (1, 28, 28),
    )
    again = TrainConfig.from_dict(__import__("json").loads(cfg.to_json()))
    assert again.latent == cfg.latent == LatentSpec(7, (10, 10, 4), 3, "normal", True)


def test_configs_from_before_several_codes_read_as_one_code():
    old = {"categories": 3, "noise_dim": 4, "continuous": 2}
    assert TrainConfig.from_dict(old).categorical == [3]
    assert TrainConfig.from_dict({**old, "categories": 0}).categorical == []
