"""The default store: a directory (SPEC §5). No fsspec import, so the common path stays light.

Its driver is the operating system: every OSError of a call into the file system is translated by
`LOCAL_ERRORS`; anything else is a bug in mreg and propagates.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from mreg.digest import digest_of_key, object_key, of_bytes
from mreg.errors import ConflictError, IntegrityError, NotFoundError
from mreg.ports import Progress, StaleUpload, StoredObject
from mreg.store.common import ErrorTable, MappedReader, driver_errors, not_found, os_error
from mreg.store.hashing import ChangedWhileReading, copy_hashing, copy_into

# The operating system's exceptions → mreg's: a missing file is a missing object (exit 3); every other
# OSError (permission denied, read-only file system, disk full, I/O error) is the store refusing (exit 6).
LOCAL_ERRORS: ErrorTable = {
    FileNotFoundError: not_found,
    OSError: os_error,
}


class LocalStore:
    is_local = True
    is_default = False  # the per-clone store inside the git dir (nothing configured)
    # Files at once: hashing is CPU-bound (one core per file) and each object's fsync waits on the disk,
    # so a sharded model registers and pulls on every core, its fsyncs overlapping (issue 14).
    jobs = min(os.cpu_count() or 1, 8)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _driver(self) -> contextlib.AbstractContextManager[None]:
        return driver_errors(LOCAL_ERRORS, self.url)

    def _path(self, digest: str) -> Path:
        return self.root / object_key(digest)

    def _tmpdir(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def exists(self, digest: str) -> bool:
        with self._driver():
            return self._path(digest).is_file()

    def size(self, digest: str) -> int | None:
        with self._driver():
            try:
                return self._path(digest).stat().st_size
            except FileNotFoundError:
                return None

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        """Copy into a temp file while hashing, fsync, then rename into place: readers never see a partial object."""
        with open(path, "rb") as src, self._driver():  # the caller's file: its own errors stay the caller's
            fd, tmp = tempfile.mkstemp(dir=self._tmpdir(), prefix="put-")
            try:
                with os.fdopen(fd, "wb") as out:
                    try:
                        digest, size = copy_into(src, out, progress)
                    except ChangedWhileReading:
                        raise ConflictError(
                            f"{path}: the file changed while it was being stored",
                            hint="register it once whatever writes it has finished",
                        ) from None
                    os.fsync(out.fileno())
                final = self._path(digest)
                if final.is_file():
                    return digest, size, False
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, final)
                return digest, size, True
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def put_bytes(self, data: bytes, digest: str) -> bool:
        with self._driver():
            final = self._path(digest)
            if final.is_file():
                return False
            fd, tmp = tempfile.mkstemp(dir=self._tmpdir(), prefix="put-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, final)
                return True
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    @contextlib.contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        with self._driver():
            try:
                f = open(self._path(digest), "rb")  # noqa: SIM115  (the try covers only the open; `with f` closes it)
            except FileNotFoundError:
                raise NotFoundError(
                    f"object {digest} is missing from store {self.url}",
                    hint="the default store is private to each clone; share one with 'mreg init --store URL'"
                    if self.is_default
                    else "it was never stored here, or was deleted; 'mreg verify' lists what is missing",
                ) from None
        with f:
            yield MappedReader(f, LOCAL_ERRORS, self.url).as_binary()

    def download(
        self, digest: str, sinks: Sequence[BinaryIO], progress: Progress | None = None
    ) -> tuple[str, int]:
        """One file, read in order: a local disk gains nothing from ranged parallel reads."""
        with self.open(digest) as src:
            return copy_hashing(src, sinks, progress)

    def read_verified(self, digest: str) -> bytes:

        with self.open(digest) as f:
            data = f.read()
        if of_bytes(data) != digest:
            raise IntegrityError(
                f"object {digest} in store {self.url} is corrupt (its bytes hash differently)"
            )
        return data

    def list_objects(self) -> Iterator[StoredObject]:
        base = self.root / "sha256"
        with self._driver():
            if not base.is_dir():
                return
            for sub in sorted(base.iterdir()):
                if not sub.is_dir():
                    continue
                for f in sorted(sub.iterdir()):
                    digest = digest_of_key(f"sha256/{sub.name}/{f.name}")
                    if digest:
                        st = f.stat()
                        yield StoredObject(digest, st.st_size, st.st_mtime)

    def delete(self, digest: str) -> None:
        with self._driver(), contextlib.suppress(FileNotFoundError):
            self._path(digest).unlink()

    def delete_many(self, digests: Sequence[str]) -> None:
        """One unlink each: a directory has no batch delete."""
        for digest in digests:
            self.delete(digest)

    def stale_uploads(self, older_than: float) -> list[StaleUpload]:
        """Temp files of puts that a killed process left in `tmp/`, untouched since `older_than`."""
        tmp = self.root / "tmp"
        found = []
        with self._driver():
            if not tmp.is_dir():
                return []
            for f in sorted(tmp.iterdir()):
                with contextlib.suppress(FileNotFoundError):  # finished meanwhile
                    st = f.stat()
                    if f.name.startswith("put-") and st.st_mtime < older_than:
                        found.append(StaleUpload(f"tmp/{f.name}", size=st.st_size))
        return found

    def remove_stale(self, items: Sequence[StaleUpload]) -> None:
        with self._driver():
            for item in items:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / "tmp" / Path(item.key).name).unlink()

    def cancel(self) -> None:
        """Nothing runs in the background here."""
