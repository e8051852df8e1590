"""How a TrainConfig field becomes a command-line option: its spellings (--batch-size and --batch_size), a
default shown from the dataclass, and a parsed value that is absent unless the user gave it (so `--resume`
knows what was set)."""

from __future__ import annotations

import argparse

from infogan.config import TrainConfig

FROM_PRESET = "the preset's"
_DEFAULTS = TrainConfig()


def spellings(name: str) -> list[str]:
    dashed = "--" + name.replace("_", "-")
    return [dashed, "--" + name] if "_" in name else [dashed]


def finite_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def option(
    group, name: str, help_text: str, default_text: str | None = None, aliases: tuple[str, ...] = (), **kwargs
) -> None:
    """An option for TrainConfig field `name`; its parsed value is absent unless given (SUPPRESS), so the
    command knows what the user set explicitly (it matters for --resume)."""
    default = getattr(_DEFAULTS, name)
    shown = default_text if default_text is not None else repr(default) if isinstance(default, str) else default
    group.add_argument(
        *spellings(name),
        *aliases,
        dest=name,
        default=argparse.SUPPRESS,
        help=f"{help_text} (default: {shown})",
        **kwargs,
    )
