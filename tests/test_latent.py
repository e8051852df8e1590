import torch

from infogan.config import TrainConfig
from infogan.latent import grid_latent, sample_latent, traversal_latent


def cfg(**kw):
    return TrainConfig(noise_dim=5, categories=4, continuous=2, **kw)


def test_priors_ranges_and_vector_layout():
    c = cfg()
    lat = sample_latent(c, 1000, torch.Generator().manual_seed(0))
    assert lat.z.shape == (1000, 5) and lat.z.abs().max() <= 1  # uniform U(-1, 1)
    assert lat.cont.abs().max() <= 1
    assert set(lat.cat.tolist()) == {0, 1, 2, 3}
    vec = lat.vector(4)
    assert vec.shape == (1000, 5 + 4 + 2)
    assert torch.equal(vec[:, 5:9].argmax(1), lat.cat) and torch.equal(vec[:, 5:9].sum(1), torch.ones(1000))
    normal = sample_latent(cfg(noise_prior="normal"), 5000, torch.Generator().manual_seed(0))
    assert normal.z.abs().max() > 2.5  # N(0, 1) has tails beyond U(-1, 1)


def test_sampling_is_reproducible_per_generator():
    a = sample_latent(cfg(), 8, torch.Generator().manual_seed(3))
    b = sample_latent(cfg(), 8, torch.Generator().manual_seed(3))
    assert torch.equal(a.z, b.z) and torch.equal(a.cat, b.cat) and torch.equal(a.cont, b.cont)


def test_grid_rows_are_categories_and_columns_share_noise():
    lat = grid_latent(cfg(), torch.Generator().manual_seed(0), columns=3)
    assert lat.cat.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    z = lat.z.view(4, 3, 5)
    assert torch.equal(z[0], z[3]) and not torch.equal(z[0, 0], z[0, 1])


def test_traversal_varies_one_code_with_noise_fixed_per_row():
    values = torch.linspace(-2, 2, 5)
    lat = traversal_latent(cfg(), 1, values, torch.Generator().manual_seed(0))
    assert len(lat) == 4 * 5
    cont = lat.cont.view(4, 5, 2)
    assert torch.equal(cont[2, :, 1], values) and torch.equal(cont[..., 0], torch.zeros(4, 5))
    z = lat.z.view(4, 5, 5)
    assert torch.equal(z[1, 0], z[1, 4]) and not torch.equal(z[0, 0], z[1, 0])
