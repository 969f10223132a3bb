"""Any fsspec URL as a store: gs://, az://, file://, memory://, … (SPEC §5). s3:// has a store of its
own on botocore (mreg.store.s3_store); both share mreg.store.common.

fsspec (and its drivers) is imported here only, when such a store is configured. Backends whose PUT
is not atomic get a temp key and a move.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from mreg.digest import digest_of_key, object_key, of_bytes
from mreg.errors import IntegrityError, MregError, UsageError
from mreg.ports import Progress, StaleUpload, StoredObject
from mreg.store.common import (
    DEFAULT_JOBS,
    FILE_SYSTEM_ERRNOS,
    ErrorTable,
    MappedReader,
    Translator,
    driver_errors,
    env_int,
    first_line,
    not_found,
    os_error,
    refused,
    scrub,
    unreachable,
)
from mreg.store.hashing import copy_hashing, hash_file

# Object stores whose PUT is atomic by itself: an object is visible only once complete.
_ATOMIC_PUT = {"gs", "gcs", "az", "abfs", "abfss", "memory"}


def _os_error(url: str, exc: Exception) -> MregError:
    """An OSError of a file system (file://, a mounted share): full, read-only, not permitted, …; any other
    is how fsspec drivers report a remote failure (HTTP errors, DNS, dropped connections)."""
    assert isinstance(exc, OSError)
    return os_error(url, exc) if exc.errno in FILE_SYSTEM_ERRNOS else unreachable(url, exc)


# fsspec's contract: drivers raise the OSError family (missing: FileNotFoundError, refused:
# PermissionError); its own timeout is asyncio's TimeoutError, not an OSError on Python 3.10.
FSSPEC_ERRORS: ErrorTable = {
    FileNotFoundError: not_found,
    PermissionError: refused,
    OSError: _os_error,
}
# Drivers whose own exception trees can escape fsspec's translation, by module: named in the table only
# once that module is loaded (a driver that was never imported cannot have raised anything).
DRIVER_ERRORS: tuple[tuple[str, str, Translator], ...] = (
    ("fsspec.exceptions", "FSTimeoutError", unreachable),
    ("aiohttp", "ClientError", unreachable),  # http(s)://, and the async drivers built on aiohttp
    ("gcsfs.retry", "HttpError", unreachable),  # gs://
    ("google.auth.exceptions", "GoogleAuthError", refused),  # gs:// credentials
    ("azure.core.exceptions", "AzureError", unreachable),  # az://, abfs://
    ("paramiko.ssh_exception", "SSHException", unreachable),  # sftp://
    ("requests.exceptions", "RequestException", unreachable),  # webhdfs://, and other sync HTTP drivers
)


def fsspec_errors() -> dict[type[BaseException], Translator | None]:
    """FsspecStore's table: the OSError family plus every loaded driver's exception base."""
    table: dict[type[BaseException], Translator | None] = dict(FSSPEC_ERRORS)
    for module, name, translator in DRIVER_ERRORS:
        loaded = sys.modules.get(module)
        cls = vars(loaded).get(name) if loaded is not None else None
        if isinstance(cls, type) and issubclass(cls, BaseException):
            table.setdefault(cls, translator)
    return table


class FsspecStore:
    is_local = False
    is_default = False

    def __init__(self, url: str, *, jobs: int | None = None) -> None:
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec is a dependency
            raise UsageError("fsspec is not installed") from None
        from mreg.secrets import strip_credentials

        if strip_credentials(url) != url:
            raise UsageError(
                "the store URL must not contain credentials",
                hint="use the store's own credential chain (AWS_* variables, profiles)",
            )
        self.url = url.rstrip("/")
        with self._driver():  # drivers that connect when built (ftp, sftp, smb): unreachable is exit 6
            try:
                self.fs, root = fsspec.core.url_to_fs(self.url)
            except (ImportError, ValueError) as exc:
                raise UsageError(
                    scrub(f"store URL {self.url!r} needs a driver that is not installed: {first_line(exc)}")
                ) from None
        self.root = root.rstrip("/")
        protocol = self.fs.protocol
        self.protocol = protocol if isinstance(protocol, str) else protocol[0]
        self.jobs = jobs or env_int("MREG_JOBS", DEFAULT_JOBS)

    # -- plumbing ----------------------------------------------------------------------------------

    def _key(self, digest: str) -> str:
        return f"{self.root}/{object_key(digest)}"

    def _driver(self) -> contextlib.AbstractContextManager[None]:
        return driver_errors(fsspec_errors(), self.url)

    # -- the ObjectStore protocol ------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        with self._driver():
            return bool(self.fs.exists(self._key(digest)))

    def size(self, digest: str) -> int | None:
        with self._driver():
            try:
                info = self.fs.info(self._key(digest))
            except FileNotFoundError:
                return None
        return int(info.get("size") or 0)

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        """Hash, ask the store, upload only what it lacks: a stored object costs one HEAD, no bytes."""
        digest, size = hash_file(path)
        if self.exists(digest):
            if progress is not None:
                progress(size)
            return digest, size, False
        self._upload(str(path), digest, size, progress)
        return digest, size, True

    def _upload(self, local: str, digest: str, size: int, progress: Progress | None = None) -> None:
        key = self._key(digest)
        if self.protocol in _ATOMIC_PUT:
            with self._driver():
                self.fs.put_file(local, key)
            if progress is not None:
                progress(size)
            return
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        try:
            with self._driver():
                self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
                self.fs.put_file(local, tmp)
                self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
                self.fs.mv(tmp, key)
            if progress is not None:
                progress(size)
        finally:
            with contextlib.suppress(Exception):  # best effort: `mreg gc` removes what stays
                if self.fs.exists(tmp):
                    self.fs.rm_file(tmp)

    def put_bytes(self, data: bytes, digest: str) -> bool:
        if self.exists(digest):
            return False
        key = self._key(digest)
        with self._driver():
            if self.protocol in _ATOMIC_PUT:
                self.fs.pipe_file(key, data)
            else:
                tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
                self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
                self.fs.pipe_file(tmp, data)
                self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
                self.fs.mv(tmp, key)
        return True

    @contextlib.contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        table = fsspec_errors()
        with driver_errors(table, self.url):
            f = self.fs.open(self._key(digest), "rb")
        reader = MappedReader(f, table, self.url)
        try:
            yield reader.as_binary()
        finally:
            reader.close()

    def download(
        self, digest: str, sinks: Sequence[BinaryIO], progress: Progress | None = None
    ) -> tuple[str, int]:
        """Copy the object into every sink, hashing in order while the bytes stream; returns what they hash to.

        The caller compares that with `digest` before anything becomes visible (ops/pull.py).
        """
        with self.open(digest) as src:
            return copy_hashing(src, sinks, progress)

    def read_verified(self, digest: str) -> bytes:
        with self._driver():
            data: bytes = self.fs.cat_file(self._key(digest))
        if of_bytes(data) != digest:
            raise IntegrityError(
                f"object {digest} in store {self.url} is corrupt (its bytes hash differently)"
            )
        return data

    def list_objects(self) -> Iterator[StoredObject]:
        with self._driver():
            try:
                listing = self.fs.find(f"{self.root}/sha256", detail=True)
            except FileNotFoundError:
                return
        for key, info in sorted(listing.items()):
            digest = digest_of_key(key)
            if digest:
                yield StoredObject(digest, int(info.get("size") or 0), _mtime(info))

    def delete(self, digest: str) -> None:
        with self._driver(), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._key(digest))

    def delete_many(self, digests: Sequence[str]) -> None:
        """One delete each: fsspec's batch `rm` fails on a key that is gone already (a concurrent gc)."""
        for digest in digests:
            self.delete(digest)

    def stale_uploads(self, older_than: float) -> list[StaleUpload]:
        """Temp keys left by interrupted non-atomic uploads, older than a timestamp (for gc)."""
        with self._driver():
            try:
                listing = self.fs.find(f"{self.root}/tmp", detail=True)
            except FileNotFoundError:
                return []
        return [
            StaleUpload(key, size=int(info.get("size") or 0))
            for key, info in sorted(listing.items())
            if _mtime(info) < older_than
        ]

    def remove_stale(self, items: Sequence[StaleUpload]) -> None:
        for item in items:
            with self._driver(), contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(item.key)

    def cancel(self) -> None:
        """Each call here is synchronous: nothing runs on once its caller stops."""


def _mtime(info: dict[str, Any]) -> float:
    mtime = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
    if isinstance(mtime, datetime):
        return mtime.timestamp()
    return float(mtime)
