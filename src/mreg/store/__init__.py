"""Content-addressed object storage (SPEC §5) behind the `ObjectStore` protocol."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from mreg.digest import of_bytes
from mreg.errors import UsageError
from mreg.ports import ObjectStore

STORE_ENV = "MREG_STORE"
T = TypeVar("T")
R = TypeVar("R")


def open_store(url: str | None, *, default_dir: Path, env: bool = True) -> ObjectStore:
    """`MREG_STORE` beats `mreg.yaml: store`, which beats the per-clone default directory (`env=False`:
    exactly `url`, for a store named on the command line)."""
    from mreg.store.local import LocalStore

    url = (os.environ.get(STORE_ENV) if env else None) or url
    if not url:
        store = LocalStore(default_dir)
        store.is_default = True
        return store
    if "://" not in url:
        return LocalStore(Path(url).expanduser())
    from mreg.secrets import strip_credentials

    if strip_credentials(url) != url:  # never echo the URL: it holds a secret
        from mreg.errors import UsageError

        raise UsageError(
            "the store URL must not contain credentials",
            hint="use the store's own credential chain (AWS_* variables, profiles)",
        )
    if url.split("://", 1)[0] in ("s3", "s3a"):
        from mreg.store.s3_store import S3Store

        return S3Store(url)
    from mreg.store.fsspec_store import FsspecStore

    return FsspecStore(url)


def run_parallel(store: ObjectStore, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`fn` over `items`, up to the store's `jobs` at once (a local store: one per core).

    On an error or Ctrl-C, queued items are dropped and the store's in-flight transfers are
    cancelled (S3: their multipart uploads aborted) before the exception propagates.
    """
    workers = max(1, min(len(items), store.jobs))
    if workers == 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        results = list(pool.map(fn, items))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        store.cancel()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    return results


def checked_store_url(store: str, *, flag: str, must_exist: bool = True) -> str:
    """A store URL someone typed (`init --store`, `store copy --to`): a typo must not silently become a
    directory in whatever directory each command happens to run in, and the store must answer first.
    `must_exist=False` lets a directory store be created (a copy's target), never a relative one."""
    import re
    from pathlib import Path

    from mreg.secrets import strip_credentials

    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!//)", store) and not re.match(r"^[A-Za-z]:[\\/]", store):
        raise UsageError(f"{flag} {store!r}: not a URL (a scheme needs '://', e.g. s3://bucket/prefix)")
    if "://" in store:
        scheme = store.split("://", 1)[0]
        if scheme != scheme.lower():
            raise UsageError(
                f"{flag} {store!r}: schemes are lowercase", hint=f"did you mean {scheme.lower()}://…?"
            )
        from fsspec.registry import known_implementations
        from fsspec.registry import registry as loaded

        known = set(known_implementations) | set(loaded) | {"s3", "s3a", "file"}
        if scheme not in known:
            raise UsageError(
                f"{flag} {store!r}: unknown store scheme {scheme!r}",
                hint="e.g. s3://bucket/prefix, gs://…, file:///abs/path",
            )
        if strip_credentials(store) != store:
            raise UsageError(
                f"{flag} must not contain credentials",
                hint="use the store's own credential chain (AWS_* variables, profiles)",
            )
        if store.startswith("file://") and not store.startswith("file:///"):
            raise UsageError(f"{flag} {store!r}: a file URL needs an absolute path (file:///srv/models)")
    else:
        path = Path(store).expanduser()
        if not path.is_absolute():
            raise UsageError(
                f"{flag} {store!r}: a directory store must be an absolute path",
                hint=f"every clone and job resolves it alike only when it is absolute, e.g. {Path(store).absolute()}",
            )
        if must_exist and not path.is_dir():
            raise UsageError(
                f"{flag} {store!r}: no such directory",
                hint=f"create it first (mkdir -p {path}) if that is the one you mean",
            )
    probe = open_store(
        store, default_dir=Path("/nonexistent"), env=False
    )  # exit 2/6 here, before mreg.yaml records it
    probe.exists(of_bytes(b""))
    return store


def data_fingerprint(uri: str) -> tuple[dict[str, object], str | None]:
    """What the store behind a data URI says about its bytes without reading them (etag, version,
    size), or why it cannot say: see `mreg.store.fingerprint`."""
    from mreg.store.fingerprint import remote_fingerprint

    return remote_fingerprint(uri)
