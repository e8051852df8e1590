import pytest
import torch

from infogan.config import TrainConfig, resolve
from infogan.networks import build_networks


@pytest.mark.parametrize("arch,shape", [
    ("paper-mnist", (1, 28, 28)), ("seed-mnist", (1, 28, 28)), ("seed-cifar10", (3, 32, 32)),
    ("paper-mnist", (3, 32, 32)), ("seed-cifar10", (1, 16, 24)),
])
@pytest.mark.parametrize("learn_std", [False, True])
def test_shapes_of_every_preset(arch, shape, learn_std):
    cfg = resolve(TrainConfig(arch=arch, learn_std=learn_std, categories=10, continuous=3), shape)
    gen, disc = build_networks(cfg)
    vec = torch.randn(5, cfg.latent_dim)
    images = gen(vec)
    assert images.shape == (5, *shape)
    assert images.min() >= -1 and images.max() <= 1  # tanh
    out = disc(images)
    assert out.logit.shape == (5,)
    assert out.cat_logits.shape == (5, 10)
    assert out.cont_mean.shape == (5, 3)
    assert (out.cont_logstd is not None) == learn_std
    if learn_std:
        assert out.cont_logstd.shape == (5, 3)


def test_parameter_ownership_partitions_discriminator():
    """Every D/Q parameter is owned by exactly one group: the shared+D group or Q's own head."""
    for arch in ("paper-mnist", "seed-mnist"):
        cfg = resolve(TrainConfig(arch=arch), (1, 28, 28))
        _, disc = build_networks(cfg)
        shared = {id(p) for p in disc.shared_and_d_parameters()}
        q = {id(p) for p in disc.q_parameters()}
        assert shared.isdisjoint(q)
        assert shared | q == {id(p) for p in disc.parameters()}
        assert (len(q) > 0) == (arch == "paper-mnist")  # the seed shares every layer


def test_paper_mnist_layer_sizes():
    cfg = resolve(TrainConfig(arch="paper-mnist"), (1, 28, 28))
    gen, disc = build_networks(cfg)
    linears = [m for m in gen.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(62 + 10 + 2, 1024), (1024, 7 * 7 * 128)]
    assert disc.d_head.out_features == 1
    assert disc.q_head[0].out_features == 128


def test_arch_must_fit_image_size():
    from infogan.errors import UsageError

    with pytest.raises(UsageError, match="divisible by 8"):
        resolve(TrainConfig(arch="seed-cifar10"), (1, 28, 28))
