"""Editing a real digit: how well the explorer's inversion draws a held-out digit again, and how much an edit
keeps of the rest.

For the first N held-out digits of mnist-sample and a model (default: the shipped one), `invert` (serve/
inversion.py) finds each digit's noise with Q's codes; measured, per digit:

- the reconstruction's mean absolute pixel error (0..1 intensities), against G with the same codes and noise
  drawn from the prior (what a search that did nothing would give);
- whether Q reads the reconstruction in the digit's own category;
- a category edit (each digit moved to the category after its own): whether Q reads the new category, and
  how far Q's continuous readings move (what the edit keeps of the slant and width);
- a code edit (continuous code 1 moved by +1): whether Q's category stays.

    python benchmarks/inversion.py                      # JSON to benchmarks/results/inversion.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import common
import torch

from infogan.data.datasets import evaluation_split, load_dataset
from infogan.data.images import to_uint8
from infogan.model.latent import Latent
from infogan.serve.encode import encode, load_encoder
from infogan.serve.inference import generate, load_generator
from infogan.serve.inversion import STARTS, STEPS, invert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="pretrained:mnist")
    parser.add_argument("--digits", type=int, default=100)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "inversion.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # the explorer's one request at a time, on one core
    gen, encoder = load_generator(args.run).float(), load_encoder(args.run).float()
    images = load_dataset("mnist-sample", split=evaluation_split("mnist-sample")).images[: args.digits]
    started = time.perf_counter()
    found = [invert(gen, encoder, images[i : i + 1]) for i in range(len(images))]
    seconds = (time.perf_counter() - started) / len(images)
    latent = Latent(*(torch.cat([getattr(f.latent, k) for f in found]) for k in ("z", "cat", "cont")))
    error = torch.cat([f.error for f in found])
    target = images.float() / 127.5 - 1
    prior = Latent(gen.spec.sample(len(images), torch.Generator().manual_seed(1)).z, latent.cat, latent.cont)
    prior_error = ((generate(gen, prior) - target).abs() / 2).flatten(1).mean(1)
    read = encode(encoder, to_uint8(torch.cat([f.reconstruction for f in found])))
    k = gen.spec.categorical[0]
    moved = Latent(latent.z, (latent.cat + 1) % k, latent.cont)  # a category edit
    after_cat = encode(encoder, to_uint8(generate(gen, moved)))
    coded = Latent(latent.z, latent.cat, latent.cont + torch.tensor([1.0] + [0.0] * (gen.spec.continuous - 1)))
    after_code = encode(encoder, to_uint8(generate(gen, coded)))
    result = common.header("inversion", run=args.run, digits=len(images), steps=STEPS, starts=STARTS)
    result["results"] = {
        "reconstruction_error_median": round(float(error.median()), 4),
        "reconstruction_error_mean": round(float(error.mean()), 4),
        "prior_noise_error_median": round(float(prior_error.median()), 4),
        "category_kept": round(float((read.categories[:, 0] == latent.cat[:, 0]).float().mean()), 3),
        "category_edit_read": round(float((after_cat.categories[:, 0] == moved.cat[:, 0]).float().mean()), 3),
        "category_edit_continuous_shift": round(float((after_cat.continuous - latent.cont).abs().mean()), 3),
        "code_edit_category_kept": round(float((after_code.categories[:, 0] == latent.cat[:, 0]).float().mean()), 3),
        "seconds_per_digit": round(seconds, 2),
        "seconds_per_digit_median_of_10": round(statistics.median(_times(gen, encoder, images[:10])), 2),
    }
    print(result["results"])
    common.save(result, args.out)


def _times(gen, encoder, images) -> list[float]:
    times = []
    for i in range(len(images)):
        started = time.perf_counter()
        invert(gen, encoder, images[i : i + 1])
        times.append(time.perf_counter() - started)
    return times


if __name__ == "__main__":
    main()
