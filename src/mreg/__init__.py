"""mreg: a Git-native model registry. Importing this package stays light (no git, YAML or fsspec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mreg.errors import (
    CheckFailedError,
    ConflictError,
    IntegrityError,
    InternalError,
    MregError,
    NotFoundError,
    RemoteError,
    UsageError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mreg.registry import Registry, Version


def __getattr__(name: str) -> Any:
    if name in ("Registry", "Version"):
        from mreg import registry

        return getattr(registry, name)
    raise AttributeError(name)


__all__ = [
    "CheckFailedError",
    "ConflictError",
    "IntegrityError",
    "InternalError",
    "MregError",
    "NotFoundError",
    "Registry",
    "RemoteError",
    "UsageError",
    "Version",
    "__version__",
]
