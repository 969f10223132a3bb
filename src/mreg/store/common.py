"""What every store adapter shares: transfer limits, credential-free messages, and the exception tables.

Each adapter (local.py, fsspec_store.py, s3_store.py) translates its driver's exceptions through one
table, `ErrorTable`: driver exception class → translator (a function from the store's URL and the
exception to an `MregError`), the way httpx maps httpcore's exceptions. The most specific class in an
exception's MRO that the table names decides; a class mapped to `PROPAGATE` (a driver's way of saying
that mreg called it wrongly) and every exception the table does not name at all (a TypeError, a
KeyError: mreg's own bugs) propagate unchanged, so the CLI reports them as internal errors (exit 70)
instead of blaming the store.
"""

from __future__ import annotations

import errno
import io
import os
import re
from collections.abc import Callable, Mapping
from typing import BinaryIO, cast

from mreg.errors import MregError, NotFoundError, RemoteError, UsageError

MiB = 1024 * 1024
DEFAULT_JOBS = 8
DEFAULT_PART_SIZE = 8 * MiB  # boto3's default too; parts above it spill to disk on some servers (moto)
MIN_PART = 5 * MiB  # S3's floor for every part but the last
MAX_PARTS = 10_000


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        raise UsageError(f"{name} must be an integer") from None


# -- credential-free messages ----------------------------------------------------------------------

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


def first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else ""


# -- exception tables ------------------------------------------------------------------------------

Translator = Callable[[str, Exception], MregError]
PROPAGATE = None  # a table entry for a driver exception that means mreg called the driver wrongly: a bug
ErrorTable = Mapping[type[BaseException], Translator | None]


def unreachable(url: str, exc: Exception) -> MregError:
    """Exit 6. Never echoes credentials: the store by its URL, the failure by its type and first line."""
    return RemoteError(
        scrub(f"store {url} is unreachable or refused access: {type(exc).__name__}: {first_line(exc)}")[:300]
    )


def refused(url: str, exc: Exception) -> MregError:
    return RemoteError(
        scrub(f"store {url} refused access: {first_line(exc) or type(exc).__name__}")[:300],
        hint="check the store's credentials and permissions",
    )


def not_found(url: str, exc: Exception) -> MregError:
    return NotFoundError(f"not found in store {url}")


def translate(table: ErrorTable, url: str, exc: Exception) -> MregError | None:
    """The table's error for `exc` (its most specific class the table names), or None: propagate it."""
    for cls in type(exc).__mro__:
        if cls in table:
            translator = table[cls]
            return None if translator is None else translator(url, exc)
    return None


class DriverErrors:
    """Around calls into a driver: what the table names becomes its MregError, the rest propagates.
    (A class rather than a generator: it wraps every store call, so it should cost next to nothing.)"""

    __slots__ = ("table", "url")

    def __init__(self, table: ErrorTable, url: str) -> None:
        self.table = table
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, Exception):  # no error, or KeyboardInterrupt and friends
            return
        error = translate(self.table, self.url, exc)
        if error is not None:  # else not the driver's: it propagates unchanged
            raise error from None


def driver_errors(table: ErrorTable, url: str) -> DriverErrors:
    return DriverErrors(table, url)


class MappedReader:
    """A driver's readable stream whose read errors are translated by the adapter's table (an object
    opened for reading fails mid-way when the connection drops or the disk under the store errs)."""

    def __init__(self, raw: BinaryIO, table: ErrorTable, url: str) -> None:
        self._raw = raw
        self._table = table
        self._url = url

    def read(self, n: int = -1) -> bytes:
        with driver_errors(self._table, self._url):
            return self._raw.read(n)

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        """The file descriptor of a local file (the kernel may copy from it); OSError for a stream."""
        fileno = getattr(self._raw, "fileno", None)
        if fileno is None:
            raise io.UnsupportedOperation("not a file")
        return int(fileno())

    def close(self) -> None:
        with driver_errors(self._table, self._url):
            self._raw.close()

    def as_binary(self) -> BinaryIO:
        return cast(BinaryIO, self)


# -- the local file system (LocalStore, and fsspec's file:// and friends) ---------------------------

_OS_HINTS = {
    errno.ENOSPC: "free space on that file system (or move the store), then run the command again",
    errno.EDQUOT: "your disk quota there is used up: free space, then run the command again",
    errno.EROFS: "that file system is mounted read-only",
    errno.EACCES: "check who owns the store's directory and its permissions",
    errno.EPERM: "check who owns the store's directory and its permissions",
}


# errnos of a file system (rather than of a network): a store on a disk, or on a mounted share
FILE_SYSTEM_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EIO,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENOTEMPTY,
        errno.ENAMETOOLONG,
        errno.ELOOP,
    }
)


def os_error(url: str, exc: Exception) -> MregError:
    """An OSError of the file system under a store: full, read-only, not permitted, an I/O error (exit 6)."""
    assert isinstance(exc, OSError)
    reason = exc.strerror or first_line(exc) or type(exc).__name__
    where = f": {exc.filename}" if exc.filename else ""
    return RemoteError(
        scrub(f"store {url} failed: {reason}{where}")[:300], hint=_OS_HINTS.get(exc.errno or 0)
    )
