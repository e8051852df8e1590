"""The seed's headline run (CIFAR-10) on a budget: pictures, an independent classifier's scores, checkerboards.

Data: ../shared/data/cifar10-train-10k.npz, split into 9,000 training and 1,000 held-out images. Steps:

1. `infogan classifier train` on the 9,000 (accuracy measured on the 1,000): the judge of generated images.
2. For each architecture (the seed's `seed-cifar10`, transposed convolutions; and the paper's SVHN networks
   `paper-svhn`), `infogan train --preset cifar10 --arch ARCH` for --epochs, then `infogan evaluate
   --classifier` on the held-out images: purity of the categorical code, mode count, classifier score,
   fid_classifier. Also the share of spectral power at the period-2 frequencies (metrics.checkerboard_power)
   of generated against real images: a checkerboard shows as a large ratio.
3. The sample grids of the chosen epochs go to docs/cifar10/.

    python benchmarks/cifar10.py                              # CPU budget: 6 epochs (about 210 steps) per arch
    python benchmarks/cifar10.py --epochs 150 --archs seed-cifar10 -- --device cuda   # the seed's full run

Options after `--` go to every `infogan train`.

JSON to benchmarks/results/cifar10.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np
from common import ROOT, infogan

from infogan.metrics.codes import checkerboard_power
from infogan.serve.inference import generated_sample, load_generator
from infogan.train.runtime import select_device

DATA = common.SHARED_DATA / "cifar10-train-10k.npz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default="seed-cifar10,paper-svhn")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=256, help="the seed's (default: 256)")
    parser.add_argument("--classifier-epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000, help="generated images scored (default: 2000)")
    parser.add_argument("--pictures", default="1,3,6", help="epochs whose sample grids go to docs/ (default: 1,3,6)")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--n-train", type=int, default=9000, help="images trained on; the rest are held out")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cifar10.json"))
    parser.add_argument("--docs", default=str(ROOT / "docs" / "cifar10"))
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    # the train option --device also places the judge's training, evaluate and the checkerboard sample
    device = extra[extra.index("--device") + 1] if "--device" in extra[:-1] else "auto"

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="infogan-cifar10-"))
    n = args.n_train
    train_npz, heldout_npz = common.split_npz(workdir, n, Path(args.data))
    train, heldout = f"npz:{train_npz}", f"npz:{heldout_npz}"
    classifier = workdir / "classifier.pt"
    started = time.perf_counter()
    if not classifier.exists():
        infogan(
            "classifier",
            "train",
            "--dataset",
            train,
            "--test-dataset",
            heldout,
            "--epochs",
            str(args.classifier_epochs),
            "--out",
            str(classifier),
            "--device",
            device,
        )
    import torch

    about = torch.load(classifier, weights_only=True)
    real = torch.from_numpy(np.load(heldout_npz)["x"]).permute(0, 3, 1, 2).contiguous()
    result = common.header(
        "cifar10",
        cpu_threads=torch.get_num_threads(),
        epochs=args.epochs,
        batch_size=args.batch_size,
        train_images=n,
        steps=args.epochs * (n // args.batch_size),
        train_args=extra,
        classifier_heldout_accuracy=about["test_accuracy"],
        real_checkerboard_power=checkerboard_power(real),
        archs={},
    )
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    for arch in args.archs.split(","):
        run = workdir / arch
        t = time.perf_counter()
        if not (run / "generator.safetensors").exists():
            infogan(
                "train",
                "--dataset",
                train,
                "--preset",
                "cifar10",
                "--arch",
                arch,
                "--epochs",
                str(args.epochs),
                "--batch-size",
                str(args.batch_size),
                "--outdir",
                str(run),
                "--overwrite",
                "--no-progress",
                *extra,
            )
        train_seconds = time.perf_counter() - t
        infogan(
            "evaluate",
            str(run),
            "--dataset",
            heldout,
            "--classifier",
            str(classifier),
            "--samples",
            str(args.samples),
            "--device",
            device,
        )
        report = json.loads((run / "eval" / "npz-heldout.json").read_text())
        fake, _ = generated_sample(load_generator(run, select_device(device)), args.samples)
        scores = report["classifier"]
        result["archs"][arch] = {
            "train_seconds": round(train_seconds, 1),
            **{k: scores[k] for k in ("purity", "mode_count", "classifier_score", "fid_classifier", "label_histogram")},
            "q_categorical_accuracy": report.get("categorical_accuracy"),
            "checkerboard_power": checkerboard_power(fake),
            "checkerboard_ratio_to_real": checkerboard_power(fake) / result["real_checkerboard_power"],
            "health": report.get("health"),  # what the run's monitor said while it trained
        }
        for epoch in (int(e) for e in args.pictures.split(",")):
            grid = run / "samples" / f"epoch_{epoch:04d}.png"
            if grid.exists():
                shutil.copyfile(grid, docs / f"{arch}_epoch_{epoch}.png")
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    common.save(result, args.out)
    print(
        f"classifier held-out accuracy {about['test_accuracy']:.3f}; real images' period-2 power "
        f"{result['real_checkerboard_power']:.5f}"
    )
    for arch, r in result["archs"].items():
        print(
            f"{arch:13s} purity {r['purity']:.3f}  modes {r['mode_count']}/10  classifier score "
            f"{r['classifier_score']:.2f}  fid_classifier {r['fid_classifier']:.2f}  checkerboard x"
            f"{r['checkerboard_ratio_to_real']:.1f} of real  ({r['train_seconds']:.0f} s)"
        )
        for alarm in r["health"] if isinstance(r["health"], list) else []:
            print(f"  health: {alarm['failure']} at step {alarm['step']}: {alarm.get('evidence', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
