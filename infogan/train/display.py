"""How each statistic of the step is shown, in one table: its label in the plots, the figure it joins
(pictures.FIGURES; None: logged only), its part of the epoch line (None: left out) and whether the
progress bar shows it. The loss reports a statistic by name and value only (loss.py); a new statistic
is one call there and, to be shown, one row here."""

from __future__ import annotations

from dataclasses import dataclass

from infogan.model.latent import LatentSpec


@dataclass(frozen=True)
class Shown:
    label: str
    figure: str | None = None
    console: str | None = None  # a format with one {} for the value
    bar: bool = False


SHOWN = {
    "d_loss": Shown("D loss", "losses", "d_loss {:.3f}", bar=True),
    "d_acc_real": Shown("D accuracy on real", "accuracy", "acc real {:.2f}"),
    "d_acc_fake": Shown("D accuracy on fake", "accuracy", "fake {:.2f}"),
    "q_real_info": Shown("I(x; c) of Q on real images", "information", "real MI {:.3f}"),
    "q_real_code_prior": Shown("SW_2^2 of Q's real readings to the prior", "loss", "prior SW {:.3f}"),
    "effect_overlap": Shown("cos^2 of the continuous codes' image effects", "losses", "overlap {:.3f}"),
    "effect_interaction": Shown("mixed difference of the continuous codes' effects", "losses", "interaction {:.3f}"),
    "q_pair_info": Shown("I(c(x); c(T(x))) of Q on real images", "information", "pair MI {:.3f}"),
    "q_pair_info_over": Shown("I(o(x); o(T(x))) of the over-clustering head", "information", "over MI {:.3f}"),
    "cr_loss": Shown("contrastive CE (InfoGAN-CR)", "losses", "cr {:.3f}"),
    "cr_acc": Shown("D_CR accuracy at the shared code (InfoGAN-CR)", "accuracy", "cr acc {:.2f}"),  # chance: 1 / codes
    "g_loss": Shown("G loss", "losses", "g_loss {:.3f}", bar=True),
    "cat_loss": Shown("categorical CE", "losses", "cat {:.3f}"),
    "cont_loss": Shown("continuous NLL", "losses", "cont {:.3f}"),
    "cat_loss_deformed": Shown("categorical CE on deformed fakes", "losses", "cat T {:.3f}"),
    "mi_bound": Shown("H(c) - CE (lower bound on I(c; G(z, c)))", "information", "MI {:.3f}/{entropy:.3f}", bar=True),
}
SEVERAL_CODES_MI_LABEL = "total: sum of H(c_i) - CE_i"


def how_shown(names: tuple[str, ...], spec: LatentSpec) -> dict[str, Shown]:
    """The rows of `names` for a run with latent code `spec`: the epoch line shows only the codes there are,
    and each categorical code of several gets rows of its own (cat_loss_catI, mi_bound_catI)."""
    has_cat, has_cont = spec.n_categorical > 0, spec.continuous > 0
    shown = {}
    for name in names:
        if name.startswith("cat_loss_cat"):
            shown[name] = Shown(f"code {name.removeprefix('cat_loss_cat')}: CE")
            continue
        if name.startswith("mi_bound_cat"):
            i = int(name.removeprefix("mi_bound_cat"))
            shown[name] = Shown(f"code {i}: ln {spec.categorical[i - 1]} - CE", "information")
            continue
        row = SHOWN[name]
        if name == "cat_loss" and not has_cat or name == "cont_loss" and not has_cont:
            row = Shown(row.label, row.figure)
        elif name == "mi_bound":
            label = row.label if spec.n_categorical < 2 else SEVERAL_CODES_MI_LABEL
            console = row.console.replace("{entropy:.3f}", f"{spec.total_entropy:.3f}") if has_cat else None
            row = Shown(label, row.figure, console, bar=has_cat)
        shown[name] = row
    return shown


def epoch_line(epoch: int, epochs: int, record: dict, shown: dict[str, Shown], metric_formats: dict[str, str]) -> str:
    """One line per epoch: the step's statistics and the per-epoch metrics (registry.console()) that are shown."""
    parts = [s.console.format(record[k]) for k, s in shown.items() if s.console]
    parts += [fmt.format(record[k]) for k, fmt in metric_formats.items() if k in record]
    return f"epoch {epoch}/{epochs}  " + "  ".join(parts) + f"  {record['images_per_sec']:.0f} img/s"
