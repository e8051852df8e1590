"""Names for a run's categories: "the 7s" instead of "category 3".

InfoGAN's categories come out in an order of their own (nothing in training ties category 0 to the digit 0).
A run can carry names for them, in `names.json` beside its config:

    {"format": 1, "source": "...", "codes": {"1": {"0": "7", "3": "2", ...}}}

(categorical code, 1-based -> category value -> name). They come from labelled images (the Hungarian matching
of Q's categories to the labels, as the accuracy metric computes it: metrics/naming.py) or by hand;
`generate --label` and `encode` use them. A shipped model carries its own; names a user gives a shipped model
go to the data folder, since the package may be read-only. A run without names behaves as before.
"""

from __future__ import annotations

import json
from pathlib import Path

from infogan.data.download import default_data_dir
from infogan.errors import UsageError
from infogan.files import atomic_write_bytes, read_file
from infogan.serve.pretrained import is_shipped, resolve_run

NAMES_FILE = "names.json"
FORMAT = 1
MAX_NAMES_BYTES = 1_000_000

Names = dict[int, dict[int, str]]  # categorical code (1-based) -> category value -> name


def names_path(run_dir: str | Path, for_writing: bool = False) -> Path:
    """Where a run's names are: its own folder, or for a shipped model the user's copy in the data folder
    (written there; read from there when it exists, else from the package)."""
    run_dir = resolve_run(run_dir)
    if not is_shipped(run_dir):
        return run_dir / NAMES_FILE
    user = default_data_dir() / "pretrained" / run_dir.name / NAMES_FILE
    return user if for_writing or user.exists() else run_dir / NAMES_FILE


def load_names(run_dir: str | Path) -> Names:
    """The run's names, {} where it has none."""
    path = names_path(run_dir)
    if not path.exists():
        return {}
    try:
        raw = json.loads(read_file(path, "names file", MAX_NAMES_BYTES))
        codes = raw["codes"]
        names = {int(code): {int(value): str(name) for value, name in per.items()} for code, per in codes.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(f"{path} is not a names file of infogan's: delete it, or name the categories again") from None
    return names


def save_names(run_dir: str | Path, names: Names, source: str) -> Path:
    path = names_path(run_dir, for_writing=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    codes = {
        str(code): {str(value): name for value, name in sorted(per.items())} for code, per in sorted(names.items())
    }
    atomic_write_bytes(
        path, (json.dumps({"format": FORMAT, "source": source, "codes": codes}, indent=1) + "\n").encode()
    )
    return path


def parse_assignments(texts: list[str], categorical: tuple[int, ...]) -> Names:
    """'K=NAME' (code 1) or 'N:K=NAME' (code N) given by hand, checked against the run's codes."""
    names: Names = {}
    for text in texts:
        left, sep, name = text.partition("=")
        code_text, colon, value_text = left.rpartition(":") if ":" in left else ("1", "", left)
        try:
            code, value = int(code_text), int(value_text)
        except ValueError:
            raise UsageError(f"expected K=NAME or N:K=NAME such as 3=seven, got {text!r}") from None
        if not sep or not name.strip():
            raise UsageError(f"{text!r} gives no name: write K=NAME such as 3=seven")
        if not 1 <= code <= len(categorical):
            raise UsageError(f"{text!r}: this run has categorical codes 1..{len(categorical)}")
        if not 0 <= value < categorical[code - 1]:
            raise UsageError(f"{text!r}: code {code} takes values 0..{categorical[code - 1] - 1}")
        names.setdefault(code, {})[value] = name.strip()
    return names


def category_named(names: Names, code: int, name: str) -> int:
    """The value of categorical `code` that carries `name`; refused, listing the names, where none does."""
    per = names.get(code, {})
    for value, given in per.items():
        if given == name:
            return value
    if not per:
        raise UsageError(
            f"--label {name}: this run's code {code} has no names; give them with `infogan name RUN --dataset "
            f"LABELLED` or `infogan name RUN K=NAME ...`, or use --category"
        )
    raise UsageError(f"--label {name}: code {code}'s categories are named {', '.join(sorted(per.values()))}")
