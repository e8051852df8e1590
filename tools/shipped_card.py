"""Write the shipped model's card, infogan/pretrained/mnist/README.md, as `infogan export` writes every card:
from its config, its categories' names and its evaluation on mnist-sample's 1,000 held-out digits (run here,
into a throw-away data folder). How the model itself was made is its MODEL.md.

    python tools/shipped_card.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from infogan.config import TrainConfig
from infogan.files import atomic_write_bytes
from infogan.metrics.evaluate import evaluate_run
from infogan.serve.card import model_card
from infogan.serve.names import load_names
from infogan.serve.pretrained import resolve_run

NAME = "pretrained:mnist"


def render() -> str:
    run = resolve_run(NAME)
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["INFOGAN_DATA"] = scratch  # evaluate writes a shipped model's report into the data folder
        report = evaluate_run(NAME, "mnist-sample")
    return model_card(run, TrainConfig.load(run / "config.json"), NAME, load_names(NAME), [report])


def main() -> int:
    out = Path(resolve_run(NAME)) / "README.md"
    atomic_write_bytes(out, render().encode())
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
