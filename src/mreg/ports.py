"""The boundaries of the core: what it needs from a store (SPEC §5)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol



Progress = Callable[[int], None]


@dataclass(frozen=True)
class StoredObject:
    digest: str
    size: int
    mtime: float


class ObjectStore(Protocol):
    url: str
    is_local: bool

    def exists(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int | None: ...

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        """Store a file; returns (digest, size, whether bytes were written)."""
        ...

    def put_bytes(self, data: bytes, digest: str) -> bool: ...

    def open(self, digest: str) -> contextlib.AbstractContextManager[BinaryIO]: ...

    def read_verified(self, digest: str) -> bytes: ...

    def list_objects(self) -> Iterator[StoredObject]: ...

    def delete(self, digest: str) -> None: ...
