"""Any fsspec URL as a store: gs://, az://, file://, memory://, … (SPEC §5).

fsspec (and its drivers) is imported here only, when such a store is configured. s3:// has its own
store on botocore (mreg.store.s3_store), which shares the limits and the credential-free error
messages defined here. Backends whose PUT is not atomic get a temp key and a move.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mreg.errors import IntegrityError, MregError, NotFoundError, RemoteError, UsageError
from mreg.ports import Progress, StoredObject
from mreg.store.hashing import copy_hashing, hash_file
from mreg.store.keys import digest_of_key, object_key

# Object stores whose PUT is atomic by itself: an object is visible only once complete.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}
_S3 = {"s3", "s3a"}

MiB = 1024 * 1024
DEFAULT_JOBS = 8
DEFAULT_PART_SIZE = 8 * MiB  # boto3's default too; parts above it spill to disk on some servers (moto)
MIN_PART = 5 * MiB  # S3's floor for every part but the last
_MAX_PARTS = 10_000

_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_SECRET_PATTERNS = [
    re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s'\"]+", re.I),
    re.compile(r"(Credential=)[^,\s'\"]+"),
    re.compile(r"(Signature=)[0-9a-f]{16,}"),
    re.compile(r"(://)[^/@\s:]+:[^/@\s]+@"),
]


def scrub(text: str) -> str:
    """Drop anything credential-like from a message: env secret values, presigned-URL fields, user:pass@."""
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    for pat in _SECRET_PATTERNS:
        text = pat.sub(r"\1***", text)
    return text


def _unreachable(url: str, exc: BaseException) -> RemoteError:
    # Never echo credentials: name the store by its URL, the failure by its type and first line.
    first = str(exc).splitlines()[0] if str(exc) else ""
    return RemoteError(
        scrub(f"store {url} is unreachable or refused access: {type(exc).__name__}: {first}")[:300]
    )


def _translate(url: str, exc: BaseException) -> Exception:
    response = getattr(exc, "response", None)  # botocore's ClientError, without importing botocore
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return NotFoundError(f"not found in store {url}")
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return RemoteError(f"store {url} refused access ({code})")
    if isinstance(exc, FileNotFoundError):
        return NotFoundError(f"not found in store {url}")
    if isinstance(exc, PermissionError):
        return RemoteError(f"store {url} refused access")
    return _unreachable(url, exc)


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        raise UsageError(f"{name} must be an integer") from None


class FsspecStore:
    is_local = False

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
        scheme = self.url.split("://", 1)[0]
        options: dict[str, Any] = {}
        if scheme in _S3:
            # botocore ≥ 1.31 reads AWS_ENDPOINT_URL itself; passing it keeps older stacks (and s3fs's
            # own `endpoint_url` precedence) in line with the standard chain. Credentials stay in the chain.
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint:
                options["endpoint_url"] = endpoint
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url, **options)
        except (ImportError, ValueError) as exc:
            raise UsageError(
                scrub(f"store URL {self.url!r} needs a driver that is not installed: {exc}".splitlines()[0]),
                hint="for s3:// run: pip install 'mreg[s3]'" if scheme.startswith("s3") else None,
            ) from None
        except Exception as exc:  # drivers that connect when built (ftp, sftp, smb): unreachable is exit 6
            raise _translate(self.url, exc) from None
        self.root = root.rstrip("/")
        protocol = self.fs.protocol
        self.protocol = protocol if isinstance(protocol, str) else protocol[0]
        self.is_s3 = False  # open_store sends s3:// to mreg.store.s3_store.S3Store
        self.jobs = jobs or env_int("MREG_JOBS", DEFAULT_JOBS)

    # -- plumbing ----------------------------------------------------------------------------------

    def _key(self, digest: str) -> str:
        return f"{self.root}/{object_key(digest)}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MregError:
            raise
        except Exception as exc:  # every driver has its own exception tree; translate at this edge
            raise _translate(self.url, exc) from None

    # -- the ObjectStore protocol ------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        return bool(self._call(self.fs.exists, self._key(digest)))

    def size(self, digest: str) -> int | None:
        try:
            info = self._call(self.fs.info, self._key(digest))
        except NotFoundError:
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
            self._call(self.fs.put_file, local, key)
            if progress is not None:
                progress(size)
            return
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        try:
            self._call(self.fs.makedirs, f"{self.root}/tmp", exist_ok=True)
            self._call(self.fs.put_file, local, tmp)
            self._call(self.fs.makedirs, key.rsplit("/", 1)[0], exist_ok=True)
            self._call(self.fs.mv, tmp, key)
            if progress is not None:
                progress(size)
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

    def download(
        self, digest: str, sinks: list[BinaryIO], progress: Progress | None = None
    ) -> tuple[str, int]:
        """Copy the object into every sink, hashing in order while the bytes stream; returns what they hash to.

        The caller compares that with `digest` before anything becomes visible (ops/pull.py).
        """
        with self.open(digest) as src:
            try:
                return copy_hashing(src, sinks, progress)
            except MregError:
                raise
            except OSError as exc:
                raise _translate(self.url, exc) from None

    def read_verified(self, digest: str) -> bytes:
        data: bytes = self._call(self.fs.cat_file, self._key(digest))
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(
                f"object {digest} in store {self.url} is corrupt (its bytes hash differently)"
            )
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
                yield StoredObject(digest, int(info.get("size") or 0), _mtime(info))

    def delete(self, digest: str) -> None:
        with contextlib.suppress(NotFoundError):
            self._call(self.fs.rm_file, self._key(digest))

    def delete_many(self, digests: list[str]) -> None:
        """Batch delete (S3: up to 1000 keys per request)."""
        if not digests:
            return
        for d in digests:
            self.delete(d)

    def stale_uploads(self, older_than: float) -> list[dict[str, Any]]:
        """Temp keys left by interrupted non-atomic uploads, older than a timestamp (for gc)."""
        try:
            listing = self.fs.find(f"{self.root}/tmp", detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise _translate(self.url, exc) from None
        return [
            {"key": key, "size": int(info.get("size") or 0)}
            for key, info in listing.items()
            if _mtime(info) < older_than
        ]

    def remove_stale(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            with contextlib.suppress(NotFoundError):
                self._call(self.fs.rm_file, item["key"])


def _mtime(info: dict[str, Any]) -> float:
    mtime = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return float(mtime)
