"""Any fsspec URL as a store: s3://, gs://, az://, file://, memory:// (SPEC §5).

fsspec (and s3fs, through it) is imported here only, when a team store is configured.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mreg.errors import IntegrityError, NotFoundError, RemoteError, UsageError
from mreg.ports import StoredObject
from mreg.store.hashing import Progress, hash_file
from mreg.store.keys import digest_of_key, object_key

# Object stores whose PUT is atomic by itself: an object is visible only once complete.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}


def _unreachable(url: str, exc: BaseException) -> RemoteError:
    # Never echo credentials: name the store by its URL, the failure by its type and first line.
    first = str(exc).splitlines()[0] if str(exc) else ""
    return RemoteError(f"store {url} is unreachable or refused access: {type(exc).__name__}: {first}"[:300])


def _translate(url: str, exc: BaseException) -> Exception:
    if isinstance(exc, FileNotFoundError):
        return NotFoundError(f"not found in store {url}")
    if isinstance(exc, PermissionError):
        return RemoteError(f"store {url} refused access")
    return _unreachable(url, exc)


class FsspecStore:
    is_local = False

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec is a dependency
            raise UsageError("fsspec is not installed") from None
        self.url = url.rstrip("/")
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            scheme = self.url.split("://", 1)[0]
            raise UsageError(
                f"store URL {self.url!r} needs a driver that is not installed: {exc}".splitlines()[0],
                hint="for s3:// run: pip install 'mreg[s3]'" if scheme.startswith("s3") else None,
            ) from None
        self.root = root.rstrip("/")
        protocol = self.fs.protocol
        self.protocol = protocol if isinstance(protocol, str) else protocol[0]

    def _key(self, digest: str) -> str:
        return f"{self.root}/{object_key(digest)}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (NotFoundError, IntegrityError, RemoteError, UsageError):
            raise
        except Exception as exc:  # every driver has its own exception tree; translate at this edge
            raise _translate(self.url, exc) from None

    def exists(self, digest: str) -> bool:
        return bool(self._call(self.fs.exists, self._key(digest)))

    def size(self, digest: str) -> int | None:
        try:
            info = self._call(self.fs.info, self._key(digest))
        except NotFoundError:
            return None
        return int(info.get("size") or 0)

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        digest, size = hash_file(path, progress)
        if self.exists(digest):
            return digest, size, False
        self._upload(str(path), digest)
        return digest, size, True

    def _upload(self, local: str, digest: str) -> None:
        key = self._key(digest)
        if self.protocol in _ATOMIC_PUT:
            self._call(self.fs.put_file, local, key)
            return
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        try:
            self._call(self.fs.makedirs, f"{self.root}/tmp", exist_ok=True)
            self._call(self.fs.put_file, local, tmp)
            self._call(self.fs.makedirs, key.rsplit("/", 1)[0], exist_ok=True)
            self._call(self.fs.mv, tmp, key)
        finally:
            with contextlib.suppress(Exception):
                if self.fs.exists(tmp):
                    self.fs.rm_file(tmp)

    def put_bytes(self, data: bytes, digest: str) -> bool:
        if self.exists(digest):
            return False
        key = self._key(digest)
        if self.protocol in _ATOMIC_PUT:
            self._call(self.fs.pipe_file, key, data)
        else:
            tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
            self._call(self.fs.makedirs, f"{self.root}/tmp", exist_ok=True)
            self._call(self.fs.pipe_file, tmp, data)
            self._call(self.fs.makedirs, key.rsplit("/", 1)[0], exist_ok=True)
            self._call(self.fs.mv, tmp, key)
        return True

    @contextlib.contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        f = self._call(self.fs.open, self._key(digest), "rb")
        with f:
            yield f

    def read_verified(self, digest: str) -> bytes:
        data: bytes = self._call(self.fs.cat_file, self._key(digest))
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(f"object {digest} in store {self.url} is corrupt (its bytes hash differently)")
        return data

    def list_objects(self) -> Iterator[StoredObject]:
        base = f"{self.root}/sha256"
        try:
            listing = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise _translate(self.url, exc) from None
        for key, info in sorted(listing.items()):
            digest = digest_of_key(key)
            if digest:
                mtime = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
                if hasattr(mtime, "timestamp"):
                    mtime = mtime.timestamp()
                yield StoredObject(digest, int(info.get("size") or 0), float(mtime))

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call(self.fs.rm_file, self._key(digest))
