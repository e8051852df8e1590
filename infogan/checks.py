"""Checks of single values, shared by the config and the commands: each refusal is one line that names the
option (`--batch-size`, from the field `batch_size`) and what it must be."""

from __future__ import annotations

import dataclasses

from infogan.errors import UsageError


def flag(name: str) -> str:
    return name.replace("_", "-")


def require_int(name: str, value, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"--{flag(name)} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise UsageError(f"--{flag(name)} must be at most {maximum}, got {value}")


def require_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise UsageError(f"--{flag(name)} must be one of {', '.join(map(str, choices))}; got {value!r}")


def _is(value, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":  # an integer is a fine float (JSON writes 1.0 as 1 in some tools)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind in ("list[int]", "list[str]"):
        return isinstance(value, (list, tuple)) and all(_is(v, kind[5:-1]) for v in value)
    raise AssertionError(kind)


def check_types(cfg) -> None:
    """Every field has its declared type (a config read from JSON can hold anything)."""
    for f in dataclasses.fields(cfg):
        kinds = [k.strip() for k in str(f.type).split("|")]
        value = getattr(cfg, f.name)
        if value is None and "None" in kinds:
            continue
        if not any(_is(value, k) for k in kinds if k != "None"):
            wanted = " or ".join(k if k != "None" else "null" for k in kinds)
            raise UsageError(f"config field {f.name!r} must be {wanted}, got {value!r}")
