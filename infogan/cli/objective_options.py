"""The "model and loss" options of `train` and `sweep`: the architecture, the loss weights and every optional
term of the objective (InfoGAN-CR, Q's real information, the continuous codes' terms, IIC with its parts)."""

from __future__ import annotations

import argparse

from infogan.cli.fields import FROM_PRESET, finite_float, option
from infogan.config import ARCHS, EFFECT_PENALTIES, IIC_FIELDS, PRESETS

# what --help shows for IIC's parts, which come from the preset when --iic-weight is not given
IIC_HELP = {n: f"the preset's: {getattr(PRESETS['mnist-iic'], n)} with mnist-iic (MNIST's), else 0" for n in IIC_FIELDS}


# The optional terms' options: (field, help); a weight takes a finite float W, a step an integer S
TERM_OPTIONS = {
    "cr_weight": "InfoGAN-CR's contrastive regulariser (Lin et al. 2020): weight of the pair discriminator's "
    "cross-entropy in G's loss; 0 is plain InfoGAN (Lin et al. use 2 on dSprites)",
    "cr_start_step": "step from which G takes the contrastive term (the pair discriminator trains from step 0)",
    "real_info_weight": "weight of Q's information on real images in D's objective: Q learns to sort real images "
    "into confident, balanced categories (Krause et al. 2010; not in the paper); 0 is off",
    "real_info_until": "with --real-info-weight: the step at which the term is switched off (its early lead kept,"
    " its later pull dropped); 0 keeps it for the whole run",
    "code_prior_weight": "weight in D's objective of the distance between Q's continuous readings of a real batch"
    " and the codes' prior U(-1, 1)^L (sliced Wasserstein; not in the paper): readings independent and evenly "
    "spread, which rotated mixes of independent factors are not; 0 is off",
    "effects_weight": "weight in G's objective of the squared cosine between the continuous codes' finite-"
    "difference image changes (OroJaR-like; not in the paper): each code changes the image its own way; 0 is off",
    "effects_start_step": "with --effects-weight: the step from which G takes the term (0: from the start)",
    "code_stagger_steps": "continuous code k joins at step (k - 1) * S, held at 0 in G's input before: code 1 "
    "takes the data's main factor alone before code 2 can share it (not in the paper); 0: all from the start",
}


def add_model_and_loss_options(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model and loss")
    option(
        model,
        "arch",
        "network architecture",
        f"{FROM_PRESET}: paper-mnist for grey data, seed-cifar10 for colour",
        choices=list(ARCHS),
    )
    option(model, "learn_std", "let Q learn a std per continuous code instead of fixing it to 1", action="store_true")
    option(
        model,
        "spectral_norm",
        "spectral normalisation of D's layers (Miyato et al. 2018; the shapes preset's, after InfoGAN-CR)",
        f"{FROM_PRESET}: off",
        action="store_true",
    )
    option(
        model,
        "continuous_weight",
        "lambda for the continuous codes' NLL in the information loss",
        f"{FROM_PRESET}: 0.5 for grey data, 1.0 for colour",
        type=finite_float,
        metavar="W",
    )
    option(
        model,
        "categorical_weight",
        "lambda for the categorical codes' cross-entropies (each code's)",
        f"{FROM_PRESET}: 1.0",
        type=finite_float,
        metavar="W",
    )

    for name, text in TERM_OPTIONS.items():  # InfoGAN-CR, Q's real information, the continuous codes' terms
        weight = name.endswith("weight")
        option(model, name, text, type=finite_float if weight else int, metavar="W" if weight else "S")
    option(
        model,
        "effects_penalty",
        "with --effects-weight: orthogonal penalises the squared cosine between two codes' image changes; "
        "interaction penalises how much one code's change depends on another's value (their mixed second "
        "difference, a Hessian penalty, Peebles et al. 2020), least when each code moves one factor of its own",
        choices=EFFECT_PENALTIES,
    )
    option(
        model,
        "iic_weight",
        "weight of IIC's two-view information in D's objective (Ji et al. 2019; not in "
        "the paper): Q gives a real image and a randomly deformed copy the same category, so the categories "
        "become groups of real images that survive small deformations; 0 (or --preset mnist) is the paper's "
        "objective. Given, the parts below that are not given are off",
        "the preset's: 3 with mnist-iic, the MNIST data sets' preset, and one categorical code (with its parts), else 0",
        type=finite_float,
        metavar="W",
    )
    for name, metavar, text in (  # the deformed copy of --iic-weight's second view (data/augment.py), the rest
        ("iic_rotation", "DEG", "the deformed copy's rotation, up to this many degrees each way"),
        ("iic_scale", "F", "the copy's scale is drawn from 1 +- this"),
        ("iic_shift", "F", "the copy's shift, up to this fraction of the image side each way"),
        (
            "iic_elastic",
            "F",
            "a smooth elastic displacement of the copy, about this fraction of the image side "
            "(Elastic-InfoGAN's augmentation); 0: none",
        ),
        (
            "iic_stroke",
            "F",
            "the copy's strokes made thicker or thinner, up to this share of a one-pixel dilation or erosion; 0: none",
        ),
        (
            "iic_shear",
            "F",
            "a horizontal shear of the copy, drawn from +- this (0.5 leans a vertical stroke by about 27 degrees), "
            "so that a category cannot stand for the slant; 0: none",
        ),
        (
            "iic_overcluster",
            "K",
            "an extra head of K clusters on D's trunk, trained by the same two-view information (IIC's "
            "over-clustering head), so that the shared trunk tells finer groups apart; 0: none",
        ),
        (
            "iic_fake_weight",
            "W",
            "Q must also read each fake's categories from a deformed copy of it, at this weight in D's and G's "
            "objectives, so that G draws its categories in what survives the deformations; 0: off",
        ),
    ):
        kind = int if name == "iic_overcluster" else finite_float
        shown = IIC_HELP.get(name)
        option(model, name, f"with --iic-weight: {text}", shown, type=kind, metavar=metavar)
