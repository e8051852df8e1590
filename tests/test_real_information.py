"""--real-info-weight: Q's information on real images in D's objective (losses.real_information). What the step
reports, that the D/Q update raises it, and the options that are refused."""

import copy

import pytest
import torch
from conftest import tiny_step

from infogan.config import TrainConfig
from infogan.errors import UsageError
from infogan.model import losses
from infogan.train.loss import statistic_names
from infogan.train.runtime import make_runtime
from infogan.train.step import train_step


def _tiny(real_info_weight, real_info_until=0):
    return tiny_step(real_info_weight=real_info_weight, real_info_until=real_info_until)


def _two_kinds_of_image():
    """16 real images of two kinds: a bright left half or a bright right half, in [-1, 1]."""
    images = -torch.ones(16, 1, 8, 8)
    images[:8, :, :, :4] = 1.0
    images[8:, :, :, 4:] = 1.0
    return images + 0.1 * torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(3))


def _q_real_information(nets, real):
    with torch.no_grad():  # on a copy: a forward in training mode moves BatchNorm's running statistics
        return losses.real_information(copy.deepcopy(nets.disc)(real).q.cat_logits).item()


def test_the_step_reports_q_real_info_before_its_update_and_only_when_asked():
    real = _two_kinds_of_image()
    cfg, nets, opts = _tiny(1.0)
    before = _q_real_information(nets, real)  # D sees the real batch first in the step, as here
    stats = train_step(cfg, nets, opts, real, torch.Generator().manual_seed(1), make_runtime(cfg))
    assert list(stats) == list(statistic_names(cfg))
    assert stats["q_real_info"].item() == pytest.approx(before, rel=1e-5)
    assert "q_real_info" not in statistic_names(_tiny(0.0)[0])  # off: the run logs what it always logged


def test_the_term_teaches_q_to_sort_real_images():
    real = _two_kinds_of_image()
    after = {}
    for weight in (0.0, 2.0):
        cfg, nets, opts = _tiny(weight)
        rt, rng = make_runtime(cfg), torch.Generator().manual_seed(1)
        # six steps: with the term Q sorts them by step 3; without it Q comes to sort images this easy on its
        # own too, from about step 12 on, by an amount that float rounding (the thread count) moves
        for step in range(6):
            train_step(cfg, nets, opts, real, rng, rt, step)
        after[weight] = _q_real_information(nets, real)
    # at most ln 2 = 0.693: Q reads the two kinds as two values, confidently, only when it is asked to
    assert after[2.0] > 0.5 and after[2.0] > after[0.0] + 0.2, after


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"real_info_weight": -1.0}, "--real-info-weight must be a finite number >= 0"),
        ({"real_info_weight": float("nan")}, "--real-info-weight must be a finite number >= 0"),
        ({"real_info_weight": 1.0, "categorical": []}, "--real-info-weight needs a categorical code"),
        ({"real_info_until": 100}, "--real-info-until switches off --real-info-weight, which is 0"),
        ({"real_info_weight": 1.0, "real_info_until": -1}, "--real-info-until must be an integer >= 0"),
    ],
)
def test_bad_weights_are_refused(changes, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**changes).validate()


def test_the_term_trains_before_its_cut_off_step_and_is_still_reported_after():
    """Steps 0-2 of a run with --real-info-until 3 train as with the term; steps 3-5 as without it (the same
    weights as a run whose term is off from the start, fed the same states), and q_real_info is logged on."""
    real = _two_kinds_of_image()

    def run(weight, until, steps, start=None):
        cfg, nets, opts = _tiny(weight, until)
        if start is not None:
            nets.gen.load_state_dict(start[0]), nets.disc.load_state_dict(start[1])
            opts.g.load_state_dict(start[2]), opts.d.load_state_dict(start[3])
        rt, rng = make_runtime(cfg), torch.Generator().manual_seed(1)
        stats = [train_step(cfg, nets, opts, real, rng, rt, step) for step in steps]
        return nets, opts, stats

    def same(a, b):
        return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

    cut, _, cut_stats = run(1.0, 3, range(3))
    on, _, _ = run(1.0, 0, range(3))
    assert same(cut.disc, on.disc) and same(cut.gen, on.gen)  # before the cut-off: the term trains D/Q
    cut, cut_opts, _ = run(1.0, 3, range(3))
    state = (cut.gen.state_dict(), cut.disc.state_dict(), cut_opts.g.state_dict(), cut_opts.d.state_dict())
    after, _, after_stats = run(1.0, 3, range(3, 6), copy.deepcopy(state))
    off, _, _ = run(0.0, 0, range(3, 6), copy.deepcopy(state))
    assert same(after.disc, off.disc) and same(after.gen, off.gen)  # from the cut-off on: as without it
    still_on, _, _ = run(1.0, 0, range(3, 6), copy.deepcopy(state))
    assert not same(after.disc, still_on.disc)  # and the term did matter there
    assert all("q_real_info" in s for s in cut_stats + after_stats)


def test_cuda_graphs_step_aside_for_a_cut_off():
    from infogan.config import resolve
    from infogan.train.cuda_graphs import unsupported_reason
    from infogan.train.terms import graph_reasons

    cfg = resolve(TrainConfig(preset="mnist", real_info_weight=1.0, real_info_until=100), (1, 28, 28))
    assert "--real-info-until" in unsupported_reason("cuda", False, False, term_reasons=graph_reasons(cfg))
