import math

import pytest
import torch

from infogan.model import losses


def test_discriminator_loss_hand_computed():
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 0.0])
    # -mean(log sigmoid(real)) - mean(log(1 - sigmoid(fake)))
    expected = (math.log(2) + math.log(1 + math.exp(-2))) / 2 + (math.log(1 + math.exp(-1)) + math.log(2)) / 2
    assert math.isclose(losses.discriminator_loss(real, fake).item(), expected, rel_tol=1e-6)


def test_generator_loss_is_non_saturating():
    fake = torch.tensor([-3.0, 1.0])
    expected = (math.log(1 + math.exp(3)) + math.log(1 + math.exp(-1))) / 2  # -mean(log sigmoid(fake))
    assert math.isclose(losses.generator_loss(fake).item(), expected, rel_tol=1e-6)


def test_categorical_nll_on_logits():
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    expected = -(2 - math.log(math.exp(2) + 2))
    assert math.isclose(losses.categorical_nll(logits, torch.tensor([0])).item(), expected, rel_tol=1e-6)


def test_gaussian_nll_fixed_and_learned_std():
    mean, target = torch.tensor([[0.5, -1.0]]), torch.tensor([[1.0, 0.0]])
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    fixed = 0.5 * 0.25 + 0.5 * 1.0 + 2 * half_log_2pi
    assert math.isclose(losses.gaussian_nll(mean, target, None).item(), fixed, rel_tol=1e-6)
    logstd = torch.tensor([[math.log(2.0), 0.0]])
    learned = (math.log(2) + 0.25 / (2 * 4) + half_log_2pi) + (0.5 * 1.0 + half_log_2pi)
    assert math.isclose(losses.gaussian_nll(mean, target, logstd).item(), learned, rel_tol=1e-6)


def test_gaussian_nll_without_continuous_codes_is_zero():
    assert losses.gaussian_nll(torch.zeros(4, 0), torch.zeros(4, 0), None).item() == 0


def _codes(logits, cat, mean, cont):
    from infogan.model.latent import Latent, QCodes

    return QCodes(logits, mean, None), Latent(torch.zeros(len(cont), 1), cat, cont)


def test_information_loss_weights():
    q, lat = _codes([torch.tensor([[0.0, 0.0]])], torch.tensor([[1]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]))
    info = losses.information_loss(q, lat, categorical_weight=2.0, continuous_weight=0.5)
    assert math.isclose(info.categorical.item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(info.continuous.item(), 0.5 + 0.5 * math.log(2 * math.pi), rel_tol=1e-6)
    assert math.isclose(info.total.item(), 2 * info.categorical.item() + 0.5 * info.continuous.item(), rel_tol=1e-6)


def test_information_loss_sums_every_categorical_code():
    # code 1: K=2, uniform logits -> CE ln 2; code 2: K=3, logits [2, 0, 0], target 0 -> CE ln(e^2 + 2) - 2
    logits = [torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 0.0, 0.0]])]
    q, lat = _codes(logits, torch.tensor([[1, 0]]), torch.zeros(1, 0), torch.zeros(1, 0))
    info = losses.information_loss(q, lat, categorical_weight=1.5, continuous_weight=1.0)
    ce1, ce2 = math.log(2), math.log(math.exp(2) + 2) - 2
    assert [round(c.item(), 6) for c in info.categorical_per_code] == [round(ce1, 6), round(ce2, 6)]
    assert math.isclose(info.categorical.item(), ce1 + ce2, rel_tol=1e-6)
    assert math.isclose(info.total.item(), 1.5 * (ce1 + ce2), rel_tol=1e-6)  # no continuous code: NLL 0
    # per-code bound ln K_i - CE_i: 0 for the blind code 1, ln 3 - CE for code 2
    assert abs(losses.mutual_information_bound(info.categorical_per_code[0], 2).item()) < 1e-6
    assert math.isclose(
        losses.mutual_information_bound(info.categorical_per_code[1], 3).item(), math.log(3) - ce2, rel_tol=1e-6
    )


def test_information_loss_without_categorical_code():
    q, lat = _codes([], torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 1), torch.ones(2, 1))
    info = losses.information_loss(q, lat, categorical_weight=1.0, continuous_weight=1.0)
    assert info.categorical.item() == 0 and info.categorical_per_code == []
    assert math.isclose(info.total.item(), 0.5 + 0.5 * math.log(2 * math.pi), rel_tol=1e-6)


def test_mi_bound_is_ln10_for_a_perfect_q_and_zero_for_a_blind_one():
    cat = torch.arange(10)
    perfect = torch.full((10, 10), -1e4)
    perfect[cat, cat] = 1e4
    ce = losses.categorical_nll(perfect, cat)
    assert math.isclose(losses.mutual_information_bound(ce, 10).item(), math.log(10), abs_tol=1e-6)
    blind = losses.categorical_nll(torch.zeros(10, 10), cat)
    assert abs(losses.mutual_information_bound(blind, 10).item()) < 1e-6


def test_discriminator_accuracy_counts_correct_decisions():
    real = torch.tensor([1.0, -1.0, 2.0, 3.0])  # 3 of 4 called real
    fake = torch.tensor([-1.0, 1.0])  # 1 of 2 called fake
    acc_real, acc_fake = losses.discriminator_accuracy(real, fake)
    assert acc_real.item() == 0.75 and acc_fake.item() == 0.5


def test_real_information_is_ln_k_for_confident_balanced_reads_and_zero_otherwise():
    k = 4
    confident_balanced = torch.eye(k).repeat(3, 1) * 50.0  # 12 images, each value read by 3, with certainty
    assert losses.real_information([confident_balanced]).item() == pytest.approx(math.log(k), abs=1e-4)
    one_value = torch.zeros(12, k)
    one_value[:, 2] = 50.0  # confident, but every image read as the same value: nothing learnt about x
    assert losses.real_information([one_value]).item() == pytest.approx(0.0, abs=1e-4)
    unsure = torch.zeros(12, k)  # uniform on every image: balanced, but no confidence
    assert losses.real_information([unsure]).item() == pytest.approx(0.0, abs=1e-6)


def test_real_information_by_hand_and_summed_over_codes():
    logits = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    p = torch.softmax(logits, 1)
    mean = p.mean(0)
    expected = -(mean * mean.log()).sum() + (p * p.log()).sum(1).mean()  # H(mean p) - mean H(p)
    assert losses.real_information([logits]).item() == pytest.approx(expected.item(), rel=1e-6)
    other = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    both = losses.real_information([logits, other]).item()
    assert both == pytest.approx(expected.item() + losses.real_information([other]).item(), rel=1e-6)


@pytest.mark.parametrize("term", ["paired_information", "code_prior_match"])
def test_information_terms_are_computed_in_fp32_under_bf16_autocast(term):
    """A bf16 run optimises the same objective as an fp32 one: the terms' matrix products leave autocast."""
    gen = torch.Generator().manual_seed(0)
    if term == "paired_information":
        a, b = torch.randn(256, 10, generator=gen) * 3, torch.randn(256, 10, generator=gen) * 3
        args = ([a], [b])
    else:
        args = (torch.rand(256, 2, generator=gen) * 2 - 1, torch.rand(256, 2, generator=gen) * 2 - 1)
    fn = getattr(losses, term)
    exact = fn(*[[t.double() for t in x] if isinstance(x, list) else x.double() for x in args])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = fn(*args)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(float(exact), rel=1e-5)


def test_code_prior_match_is_zero_for_the_prior_itself_and_grows_for_a_rotated_mix():
    """SW_2^2 between Q's readings and the prior's draws: 0 for the same sample, small for another sample of
    the prior, and clearly larger for the same draws rotated by 45 degrees (a mix of two independent codes) or
    for readings all at 0 (a code that reads nothing)."""
    gen = torch.Generator().manual_seed(0)
    prior = torch.rand(4096, 2, generator=gen) * 2 - 1
    other = torch.rand(4096, 2, generator=gen) * 2 - 1
    rotation = torch.tensor([[1.0, -1.0], [1.0, 1.0]]) / math.sqrt(2)
    assert float(losses.code_prior_match(prior, prior)) == 0.0
    same_law = float(losses.code_prior_match(other, prior))
    mixed = float(losses.code_prior_match(other @ rotation, prior))
    dead = float(losses.code_prior_match(torch.zeros_like(other), prior))
    assert same_law < 1e-3 and mixed > 10 * same_law and dead > 0.1
    assert losses.prior_directions(2).shape == (8, 2) and losses.prior_directions(4).shape == (4 + 6 * 6, 4)
