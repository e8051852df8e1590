"""The objective's optional terms as objects (train/terms.py): a term added to the table joins the phases it
names, with its statistics where the phases report, and nothing else changes; the statistics of every term
come from the terms themselves."""

import torch
from conftest import tiny_step

from infogan.train import terms
from infogan.train.loss import statistic_names
from infogan.train.runtime import make_runtime
from infogan.train.step import train_step


class ToyTerm(terms.Term):
    """Pushes D's real logits down in D's phase and G's fakes' mean up in G's, reporting both."""

    @staticmethod
    def on(cfg):
        return True

    def statistics(self, cfg):
        return {"D": ("toy_d",), "G": ("toy_g",)}

    def d_loss(self, loss, ctx, views, total):
        value = views["real"].logit.float().mean()
        ctx.report("toy_d", value)
        return total + value

    def g_loss(self, loss, ctx, views, total):
        value = -ctx.fake.float().mean()
        ctx.report("toy_g", value)
        return total + value


def one_step(monkeypatch, table):
    monkeypatch.setattr(terms, "TERMS", table)
    cfg, nets, opts = tiny_step(continuous=2, code_prior_weight=1.0)
    real = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(5)) * 2 - 1
    stats = train_step(cfg, nets, opts, real, torch.Generator().manual_seed(0), make_runtime(cfg))
    return cfg, nets, stats


def test_a_term_added_to_the_table_joins_the_phases_it_names(monkeypatch):
    cfg, plain, plain_stats = one_step(monkeypatch, terms.TERMS)
    assert "toy_d" not in statistic_names(cfg)
    cfg, toyed, stats = one_step(monkeypatch, (*terms.TERMS, ToyTerm))
    names = statistic_names(cfg)
    # after D's own statistics and the terms before it in the table; last in G's
    assert names.index("q_real_code_prior") < names.index("toy_d") < names.index("g_loss") and names[-1] == "toy_g"
    assert set(stats) == set(names)
    # D's phase ran first on the same weights: its reported statistics agree, the term's value on top
    assert torch.equal(stats["d_loss"], plain_stats["d_loss"])
    changed = lambda a, b: any(not torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))  # noqa: E731
    assert changed(toyed.disc, plain.disc) and changed(toyed.gen, plain.gen)


def test_a_config_turns_on_its_terms_in_the_tables_order():
    cfg, _, _ = tiny_step(continuous=2, code_prior_weight=1.0, effects_weight=1.0, real_info_weight=1.0)
    assert [type(t).__name__ for t in terms.terms_of(cfg)] == ["RealInformation", "CodePrior", "ContinuousEffects"]
    assert terms.terms_of(tiny_step()[0]) == []  # the paper's objective: none
