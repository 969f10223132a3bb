"""Content-addressed object storage (SPEC §5) behind the `ObjectStore` protocol."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from mreg.ports import ObjectStore
from mreg.store.local import LocalStore

STORE_ENV = "MREG_STORE"
T = TypeVar("T")
R = TypeVar("R")


def open_store(url: str | None, *, default_dir: Path, env: bool = True) -> ObjectStore:
    """`MREG_STORE` beats `mreg.yaml: store`, which beats the per-clone default directory (`env=False`:
    exactly `url`, for a store named on the command line)."""
    url = (os.environ.get(STORE_ENV) if env else None) or url
    if not url:
        store = LocalStore(default_dir)
        store.is_default = True
        return store
    if "://" not in url:
        return LocalStore(Path(url).expanduser())
    from mreg.capture import strip_credentials

    if strip_credentials(url) != url:  # never echo the URL: it holds a secret
        from mreg.errors import UsageError

        raise UsageError("the store URL must not contain credentials",
                         hint="use the store's own credential chain (AWS_* variables, profiles)")
    if url.split("://", 1)[0] in ("s3", "s3a"):
        from mreg.store.s3_store import S3Store

        return S3Store(url)
    from mreg.store.fsspec_store import FsspecStore

    return FsspecStore(url)


def run_parallel(store: ObjectStore, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`fn` over `items`, up to the store's `jobs` at once (team stores; a local store runs in order).

    On an error or Ctrl-C, queued items are dropped and the store's in-flight transfers are
    cancelled (S3: their multipart uploads aborted) before the exception propagates.
    """
    workers = 1 if store.is_local else max(1, min(len(items), int(getattr(store, "jobs", 1))))
    if workers == 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        results = list(pool.map(fn, items))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        cancel = getattr(store, "cancel", None)
        if cancel is not None:
            cancel()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    return results
