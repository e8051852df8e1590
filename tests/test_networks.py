import pytest
import torch

from infogan.config import TrainConfig, resolve
from infogan.model.networks import build_networks
from infogan.presets import PRESETS


@pytest.mark.parametrize(
    "arch,shape",
    [
        ("paper-mnist", (1, 28, 28)),
        ("seed-mnist", (1, 28, 28)),
        ("seed-cifar10", (3, 32, 32)),
        ("paper-mnist", (3, 32, 32)),
        ("seed-cifar10", (1, 16, 24)),
        ("paper-svhn", (3, 32, 32)),
        ("paper-svhn", (1, 16, 48)),
        ("paper-chairs", (1, 16, 16)),
        ("cr-dsprites", (1, 32, 32)),
        ("cr-dsprites", (1, 64, 64)),
        ("cr-dsprites", (3, 16, 24)),
    ],
)
@pytest.mark.parametrize("learn_std", [False, True])
def test_shapes_of_every_arch(arch, shape, learn_std):
    cfg = resolve(TrainConfig(arch=arch, learn_std=learn_std, categorical=[10, 4], continuous=3), shape)
    gen, disc = build_networks(cfg.model)
    images = gen(torch.randn(5, cfg.latent.input_dim))
    assert images.shape == (5, *shape)
    assert isinstance(gen.net[-1], torch.nn.Tanh)  # images in [-1, 1], as the data are scaled
    assert (images[0] != images[1]).any()  # different latents, different images
    out = disc(images)
    assert out.logit.shape == (5,)
    assert [t.shape for t in out.cat_logits] == [(5, 10), (5, 4)]
    assert out.cont_mean.shape == (5, 3)
    assert (out.cont_logstd is not None) == learn_std
    if learn_std:
        assert out.cont_logstd.shape == (5, 3)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_its_paper_model(preset):
    p = PRESETS[preset]
    shape = (p.channels, p.image_size, p.image_size)
    cfg = resolve(TrainConfig(preset=preset), shape)
    assert cfg.arch == p.arch and cfg.latent.categorical == p.categorical and cfg.continuous == p.continuous
    gen, disc = build_networks(cfg.model)
    gen.eval(), disc.eval()
    with torch.no_grad():
        images = gen(torch.randn(2, cfg.latent.input_dim))
        out = disc(images)
    assert images.shape == (2, *shape)
    assert [t.shape[1] for t in out.cat_logits] == list(p.categorical) and out.cont_mean.shape == (2, p.continuous)


def test_paper_svhn_and_chairs_layer_sizes():
    """Appendix C: SVHN's G starts at 2x2x448 from 124 noise + 4 x Cat(10) + 4 continuous = 168 inputs;
    Chairs' D has five 4x4 convs (64, 128, 256, 256, 256) then FC 1024, its G FC 1024 then 8x8x256."""
    svhn = resolve(TrainConfig(preset="svhn"), (3, 32, 32))
    gen, disc = build_networks(svhn.model)
    first = gen.net[0]
    assert (first.in_features, first.out_features) == (168, 2 * 2 * 448)
    assert disc.d_head.out_features == 1 and disc.q_head[-1].out_features == 40 + 4
    chairs = resolve(TrainConfig(preset="chairs"), (1, 64, 64))
    gen, disc = build_networks(chairs.model)
    convs = [m.out_channels for m in disc.trunk.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [64, 128, 256, 256, 256]
    linears = [(m.in_features, m.out_features) for m in gen.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [(128 + 60 + 1, 1024), (1024, 8 * 8 * 256)]


def test_parameter_ownership_partitions_discriminator():
    """Every D/Q parameter is owned by exactly one group: the shared+D group or Q's own head."""
    for arch in ("paper-mnist", "seed-mnist"):
        cfg = resolve(TrainConfig(arch=arch), (1, 28, 28))
        _, disc = build_networks(cfg.model)
        shared = {id(p) for p in disc.shared_and_d_parameters()}
        q = {id(p) for p in disc.q_parameters()}
        assert shared.isdisjoint(q)
        assert shared | q == {id(p) for p in disc.parameters()}
        assert (len(q) > 0) == (arch == "paper-mnist")  # the seed shares every layer


def test_paper_mnist_layer_sizes():
    cfg = resolve(TrainConfig(arch="paper-mnist"), (1, 28, 28))
    gen, disc = build_networks(cfg.model)
    linears = [m for m in gen.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(62 + 10 + 2, 1024), (1024, 7 * 7 * 128)]
    assert disc.d_head.out_features == 1
    assert disc.q_head[0].out_features == 128


def test_arch_must_fit_image_size():
    from infogan.errors import UsageError

    with pytest.raises(UsageError, match="divisible by 8"):
        resolve(TrainConfig(arch="seed-cifar10"), (1, 28, 28))


def _outputs(out):
    return [out.logit, *out.cat_logits, out.cont_mean, out.overcluster]


@pytest.mark.parametrize(
    "arch,shape", [("paper-mnist", (1, 28, 28)), ("seed-mnist", (1, 28, 28)), ("paper-svhn", (3, 32, 32))]
)
@pytest.mark.parametrize("nested_fallback", [False, True])
def test_one_call_on_concatenated_views_is_separate_calls(arch, shape, nested_fallback, monkeypatch):
    """D(cat(views), views=k) gives each view what its own call gives: outputs, BatchNorm's running statistics
    (updated view by view) and weight gradients; also by the call-by-call path D takes where a BatchNorm is
    not a top-level layer."""
    cfg = resolve(TrainConfig(arch=arch, iic_weight=3, iic_overcluster=20), shape)
    torch.manual_seed(0)
    _, separate = build_networks(cfg.model)
    _, joint = build_networks(cfg.model)
    joint.load_state_dict(separate.state_dict())
    separate, joint = separate.double(), joint.double()  # float64: only the summation order differs
    if nested_fallback:
        monkeypatch.setattr(joint, "norms_at_top_level", False)
    views = [torch.rand(6, *shape, dtype=torch.float64) * 2 - 1 for _ in range(3)]
    one_by_one = [separate(v) for v in views]
    together = joint(torch.cat(views), views=3).chunk(3)
    for a, b in zip(one_by_one, together):
        for x, y in zip(_outputs(a), _outputs(b)):
            torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-10)
    sum(o.logit.square().sum() + o.cat_logits[0].sum() for o in one_by_one).backward()
    sum(o.logit.square().sum() + o.cat_logits[0].sum() for o in together).backward()
    for (name, p), q in zip(separate.named_parameters(), joint.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-10, msg=lambda m, name=name: f"{name}: {m}")
    for (name, buf), other in zip(separate.named_buffers(), joint.buffers()):
        torch.testing.assert_close(buf, other, rtol=1e-9, atol=1e-10, msg=lambda m, name=name: f"{name}: {m}")
    # a batch of the three views in one BatchNorm would differ: the per-view split is what makes them equal
    mixed = separate(torch.cat(views))
    assert not torch.allclose(mixed.logit[:6], one_by_one[0].logit)
