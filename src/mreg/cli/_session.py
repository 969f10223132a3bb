"""What every command does around its work, without typer: the `resolve` fast path shares it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from mreg.registry import Registry


def warn(message: str) -> None:
    from mreg.text import term

    print(f"mreg: warning: {term(message)}", file=sys.stderr)


def open_registry(repo: str, *, registry: str | None = None, offline: bool = False) -> Registry:
    from mreg.registry import Registry

    return Registry.open(repo, registry=registry, offline=offline, on_warning=warn)


def when(text: str | None) -> datetime | None:
    """`--at WHEN`; refs is imported only when the option is given."""
    if text is None:
        return None
    from mreg.refs import parse_at

    return parse_at(text)
