"""The default store: a directory (SPEC §5). No fsspec import, so the common path stays light."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mreg.errors import IntegrityError, NotFoundError, RemoteError
from mreg.ports import Progress, StoredObject
from mreg.store.hashing import copy_hashing
from mreg.store.keys import digest_of_key, object_key
from mreg.store.writeback import EarlyWriteback


class LocalStore:
    is_local = True
    is_default = False  # the per-clone store inside the git dir (nothing configured)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _path(self, digest: str) -> Path:
        return self.root / object_key(digest)

    def _tmpdir(self) -> Path:
        tmp = self.root / "tmp"
        try:
            tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RemoteError(f"cannot write to store {self.url}: {exc.strerror}") from None
        return tmp

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def size(self, digest: str) -> int | None:
        try:
            return self._path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        """Copy into a temp file while hashing, fsync, then rename into place: readers never see a partial object."""
        tmpdir = self._tmpdir()
        fd, tmp = tempfile.mkstemp(dir=tmpdir, prefix="put-")
        try:
            with open(path, "rb") as src, os.fdopen(fd, "wb") as out:
                digest, size = copy_hashing(src, [EarlyWriteback(out)], progress)
                out.flush()
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
            yield f

    def read_verified(self, digest: str) -> bytes:
        import hashlib

        with self.open(digest) as f:
            data = f.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(
                f"object {digest} in store {self.url} is corrupt (its bytes hash differently)"
            )
        return data

    def list_objects(self) -> Iterator[StoredObject]:
        base = self.root / "sha256"
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
        with contextlib.suppress(FileNotFoundError):
            self._path(digest).unlink()
