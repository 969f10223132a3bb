"""Content-addressed object storage (SPEC §5) behind the `ObjectStore` protocol."""

from __future__ import annotations

import os
from pathlib import Path

from mreg.ports import ObjectStore
from mreg.store.local import LocalStore

STORE_ENV = "MREG_STORE"


def open_store(url: str | None, *, default_dir: Path) -> ObjectStore:
    """`MREG_STORE` beats `mreg.yaml: store`, which beats the per-clone default directory."""
    url = os.environ.get(STORE_ENV) or url
    if not url:
        return LocalStore(default_dir)
    if "://" not in url:
        return LocalStore(Path(url).expanduser())
    from mreg.store.fsspec_store import FsspecStore

    return FsspecStore(url)
