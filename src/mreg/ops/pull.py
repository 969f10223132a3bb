"""`mreg pull`: verified bytes only (SPEC §5). Every byte handed out has been hashed on the way."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from mreg.errors import IntegrityError, UsageError
from mreg.ports import ObjectStore, Progress
from mreg.store.cache import ObjectCache
from mreg.store.hashing import copy_hashing

if TYPE_CHECKING:
    from mreg.registry import Registry


@dataclass(frozen=True)
class PullResult:
    ref: str
    digest: str
    dest: Path
    files: tuple[str, ...]
    from_cache: int
    from_store: int


def safe_target(dest: Path, rel: str) -> Path:
    """A manifest is data from a pull request: its paths must stay inside the destination."""
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise IntegrityError(f"artifact path {rel!r} would leave the destination")
    target = dest.joinpath(*parts)
    root = dest.resolve()
    if not target.parent.resolve().is_relative_to(root):  # not a string prefix: /x/out-evil starts with /x/out
        raise IntegrityError(f"artifact path {rel!r} would leave the destination (through a symlink)")
    return target


def pull(
    reg: Registry,
    ref: str,
    dest: Path | None,
    *,
    at: datetime | None = None,
    progress: Callable[[str, int], Progress | None] | None = None,
    jobs: int | None = None,
    allow_unreviewed: bool = False,
) -> PullResult:
    version = reg.resolve(ref, at, allow_unreviewed=allow_unreviewed)
    dest = dest if dest is not None else Path(f"{version.model}-v{version.version}")
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"-o {dest}: exists and is not a directory")
    store = reg.store
    cache = None if store.is_local else ObjectCache()
    dest.mkdir(parents=True, exist_ok=True)
    if jobs is not None and hasattr(store, "jobs"):
        store.jobs = jobs  # parts (and files) in flight at once

    def one(art: dict[str, Any]) -> bool:
        """One artifact into place; True when it came from the cache."""
        rel, digest, size = art["path"], art["digest"], art["size"]
        target = safe_target(dest, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        bar = progress(rel, size) if progress else None
        if cache is not None and (hit := cache.find(digest)) is not None:
            try:
                with open(hit, "rb") as src:
                    _write_verified(src, target, digest, bar)
                return True
            except IntegrityError:
                cache.evict(digest)  # a damaged cache entry is thrown away and fetched again
        if cache is None:
            with store.open(digest) as src:
                _write_verified(src, target, digest, bar, where=f"store {store.url}")
        else:
            _fetch_into_cache_and_dest(store, cache, target, digest, bar, where=f"store {store.url}")
        return False

    arts = version.manifest["artifacts"]
    from mreg.store import run_parallel

    from_cache = run_parallel(store, one, arts)  # several files (and their parts) in flight on team stores
    written = [art["path"] for art in arts]
    hits = sum(from_cache)
    misses = len(arts) - hits
    return PullResult(version.ref, version.digest, dest, tuple(written), hits, misses)


def _write_verified(src: BinaryIO, target: Path, digest: str, bar: Progress | None, *, where: str = "the cache") -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.mreg-")
    try:
        with os.fdopen(fd, "wb") as out:
            got, _ = copy_hashing(src, [out], bar)
        if got != digest:
            raise IntegrityError(f"object {digest} from {where} is corrupt: its bytes hash to {got}")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _fetch_into_cache_and_dest(
    store: ObjectStore, cache: ObjectCache, target: Path, digest: str, bar: Progress | None, *, where: str
) -> None:
    """One pass over the network bytes: hashed, written to the cache and the destination at once;
    both become visible only after the hash matched (stores with `download` move parts in parallel)."""
    cfd, ctmp = cache.temp()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.mreg-")
    try:
        with os.fdopen(cfd, "wb") as cout, os.fdopen(fd, "wb") as out:
            download = getattr(store, "download", None)
            if download is not None:
                got, _ = download(digest, [cout, out], bar)
            else:
                with store.open(digest) as src:
                    got, _ = copy_hashing(src, [cout, out], bar)
        if got != digest:
            raise IntegrityError(f"object {digest} from {where} is corrupt: its bytes hash to {got}")
        cache.admit(ctmp, digest)
        os.replace(tmp, target)
    finally:
        for t in (ctmp, tmp):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(t)
