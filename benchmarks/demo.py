"""`make demo` as a new user meets it: a fresh clone, `time make demo` (the install included), then what the
demo's model learned, scored on mnist-sample's 1,000 held-out digits by `infogan evaluate`.

    python benchmarks/demo.py --out benchmarks/results/demo.json      # about 10 minutes on a 2-core CPU

Run it with nothing else on the machine: the wall time is the result. The clone is of the committed HEAD
(uncommitted changes are not in it). Prints one line per step and the summary; the JSON has every epoch's
held-out accuracy and seconds, the category -> digit matching of the final model and each category's purity.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import common


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=str(common.ROOT), help="the git repository to clone (default: this one)")
    ap.add_argument("--clone", default=None, help="where to clone (default: a temp dir, removed after)")
    ap.add_argument("--out", default=str(common.RESULTS / "demo.json"))
    args = ap.parse_args(argv)

    clone = Path(args.clone or tempfile.mkdtemp(prefix="infogan-demo-")) / "infogan"
    commit = subprocess.run(
        ["git", "-C", args.repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", args.repo, str(clone)], check=True)
    log = clone.parent / "make_demo.log"
    with open(log, "w") as out:
        code = subprocess.run(["make", "demo"], cwd=clone, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - started
    print(f"make demo: exit {code} after {wall:.1f} s (clone and install included); log {log}", flush=True)
    if code != 0:
        raise SystemExit(f"make demo failed (exit {code}): see {log}")

    run = clone / "runs" / "demo"
    log_records = common.epochs(run)
    records = [r for r in log_records if r.get("kind") == "epoch"]
    health = [r for r in log_records if r.get("kind") == "health"]
    report = json.loads(
        subprocess.run(
            [str(clone / ".venv" / "bin" / "infogan"), "evaluate", str(run)], capture_output=True, text=True, check=True
        ).stdout
    )
    factor = report["factors"]["y"]
    purity = category_purity(run, report)
    config = json.loads((run / "config.json").read_text())
    result = common.header(
        "demo",
        command="git clone <repo> && time make demo",
        commit=commit,
        preset=config["preset"],
        precision=config["precision"],
        epochs=config["epochs"],
        wall_seconds_fresh_clone=round(wall, 1),
        training_seconds=round(sum(r["seconds"] for r in records), 1),
        epoch_seconds_median=sorted(r["seconds"] for r in records)[len(records) // 2],
        images_per_sec_range=[min(r["images_per_sec"] for r in records), max(r["images_per_sec"] for r in records)],
        heldout_accuracy_by_epoch=[round(r["categorical_accuracy"], 3) for r in records],
        heldout_accuracy=factor["categorical_accuracy"],
        heldout_nmi=factor["nmi"],
        matching=factor["matching"],
        category_purity=purity,
        digits_with_a_category=len(set(factor["matching"].values())),
        health_records=health,
    )
    common.save(result, args.out)
    print(
        f"{wall / 60:.1f} min from a fresh clone; held-out accuracy {factor['categorical_accuracy']:.3f} "
        f"(NMI {factor['nmi']:.3f}); lowest category purity {min(purity.values()):.2f}; {args.out}",
        flush=True,
    )
    if not args.clone:
        shutil.rmtree(clone.parent, ignore_errors=True)
    return 0


def category_purity(run: Path, report: dict) -> dict[str, float]:
    """Per category, the share of the held-out digits Q puts there that are its matched digit (1.0: a row of
    the final grid that draws one digit only). Q reads the same 1,000 digits evaluate scored."""
    import numpy as np

    from infogan.data.datasets import load_dataset
    from infogan.metrics.codes import q_on_real
    from infogan.serve.encode import load_encoder

    held_out = load_dataset("mnist-sample", split="test")
    predicted = q_on_real(load_encoder(run), held_out.images)[0].argmax(1).numpy()
    labels = held_out.labels.numpy()
    matching = report["factors"]["y"]["matching"]
    return {
        category: round(float(np.mean(labels[predicted == int(category)] == digit)), 3)
        for category, digit in matching.items()
        if (predicted == int(category)).any()
    }


if __name__ == "__main__":
    raise SystemExit(main())
