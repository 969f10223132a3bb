"""Copying while hashing: in the kernel where the file systems allow it, in one pass otherwise.

`copy_file_hashing` is the local store's fast path (issue 14): the bytes go source → destination by
a reflink (`FICLONE`: free on XFS/btrfs) or `copy_file_range` (no user-space copy), while this thread
hashes the source through one reused buffer. The digest is of the source as read; the copy is of the
same file, and a file that changed while it was read (size, mtime, ctime, inode — git's test) is
refused, so the stored bytes are the bytes the digest names. Where neither call works it returns
None and the caller falls back to `copy_hashing`. `MREG_COPY=python` forces the fallback."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, Protocol

from mreg.digest import of_hash
from mreg.ports import Progress

WINDOW = 4  # chunks in flight to the writer thread

CHUNK = 4 * 1024 * 1024  # bytes read and hashed at a time


def hash_file(path: str | os.PathLike[str], progress: Progress | None = None) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        if progress is None:
            # file_digest reads with a reused buffer in C: as fast as openssl's own loop.
            h = hashlib.file_digest(f, "sha256") if hasattr(hashlib, "file_digest") else _loop(f, h)
            size = f.tell()
        else:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
                progress(len(chunk))
    return of_hash(h), size


def _loop(f: BinaryIO, h: hashlib._Hash) -> hashlib._Hash:
    while chunk := f.read(CHUNK):
        h.update(chunk)
    return h


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def copy_hashing(
    src: BinaryIO,
    sinks: Sequence[Sink],
    progress: Progress | None = None,
) -> tuple[str, int]:
    """Copy `src` into every sink while hashing; the hash and the writes overlap in two threads.

    hashlib and file writes both release the GIL on large buffers, so writing chunk N while hashing
    it costs about max(hash, write) instead of their sum. (Starting the disk writeback early is the
    sink's business: see store/writeback.py.)
    """
    h = hashlib.sha256()
    size = 0
    window: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=1) as writer:  # one worker: chunks are written in order
        while chunk := src.read(CHUNK):
            while len(window) >= WINDOW:
                window.popleft().result()
            window.append(writer.submit(_write_all, sinks, chunk))
            h.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
        while window:
            window.popleft().result()
    return of_hash(h), size


def _write_all(sinks: Sequence[Sink], chunk: bytes) -> None:
    for sink in sinks:
        sink.write(chunk)


class ChangedWhileReading(Exception):
    """The source file changed while it was copied and hashed."""


_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_NO_KERNEL_COPY = {
    errno.EXDEV,
    errno.ENOSYS,
    errno.EINVAL,
    errno.EOPNOTSUPP,
    errno.EBADF,
    errno.ETXTBSY,
    errno.ESPIPE,
}


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def copy_file_hashing(src: BinaryIO, dst_fd: int, progress: Progress | None = None) -> tuple[str, int] | None:
    """Copy the open file `src` into the empty file `dst_fd` in the kernel while hashing `src`:
    (digest, size), or None when this system cannot copy in the kernel (nothing written then).
    ChangedWhileReading when the source changed meanwhile."""
    if os.environ.get("MREG_COPY") == "python" or not hasattr(os, "copy_file_range"):
        return None
    src_fd = src.fileno()
    before = os.fstat(src_fd)
    size = before.st_size
    if not _reflink(src_fd, dst_fd) and not _kernel_copy_works(src_fd, dst_fd, size):
        return None
    copier = _RangeCopier(src_fd, dst_fd, size) if os.fstat(dst_fd).st_size < size else None
    if copier is not None:
        copier.start()
    try:
        digest, hashed = _hash_fd(src_fd, size, progress)
    finally:
        if copier is not None:
            copier.join()
    if copier is not None and copier.error is not None:
        raise copier.error
    if hashed != size or _identity(os.fstat(src_fd)) != _identity(before) or os.fstat(dst_fd).st_size != size:
        raise ChangedWhileReading()
    return digest, size


def copy_into(src: BinaryIO, out: BinaryIO, progress: Progress | None = None) -> tuple[str, int]:
    """Copy `src` into the empty file `out` while hashing: in the kernel when `src` is a local file
    and the file systems allow it, else in one pass with writeback started early. (digest, size);
    ChangedWhileReading when the kernel path saw `src` change."""
    from mreg.store.writeback import EarlyWriteback

    try:
        src.fileno()
    except (OSError, AttributeError, ValueError):  # a stream (a network body, a wrapped reader)
        fast = None
    else:
        fast = copy_file_hashing(src, out.fileno(), progress)
    if fast is not None:
        return fast
    got = copy_hashing(src, [EarlyWriteback(out)], progress)
    out.flush()
    return got


def _reflink(src_fd: int, dst_fd: int) -> bool:
    """Share the source's extents (copy-on-write): the copy costs nothing, where the file system can."""
    try:
        import fcntl

        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        return True
    except (OSError, ImportError):
        return False


def _kernel_copy_works(src_fd: int, dst_fd: int, size: int) -> bool:
    """Probe copy_file_range with the first byte (undone when it works): some kernels and file systems
    refuse it (EXDEV across mounts before Linux 5.3, ENOSYS, EINVAL...)."""
    if size == 0:
        return True
    try:
        n = os.copy_file_range(src_fd, dst_fd, 1, 0, 0)
    except OSError as exc:
        if exc.errno in _NO_KERNEL_COPY:
            return False
        raise
    os.ftruncate(dst_fd, 0)
    return n == 1


class _RangeCopier(threading.Thread):
    """copy_file_range in CHUNK steps, in a thread of its own (the call releases the GIL)."""

    def __init__(self, src_fd: int, dst_fd: int, size: int) -> None:
        super().__init__(name="mreg-copy", daemon=True)
        self.src_fd, self.dst_fd, self.size = src_fd, dst_fd, size
        self.error: BaseException | None = None

    def run(self) -> None:
        from mreg.store.writeback import STEP, start_writeback

        pos = 0
        try:
            while pos < self.size:
                n = os.copy_file_range(self.src_fd, self.dst_fd, min(STEP, self.size - pos), pos, pos)
                if n == 0:  # the source got shorter: the caller's identity check says so
                    break
                start_writeback(self.dst_fd, pos, n)  # the disk works while the rest is copied
                pos += n
        except BaseException as exc:
            self.error = exc


def _hash_fd(fd: int, size: int, progress: Progress | None) -> tuple[str, int]:
    """Hash the first `size` bytes of `fd` with positioned reads into one reused buffer."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    pos = 0
    while pos < size:
        n = os.preadv(fd, [view[: min(CHUNK, size - pos)]], pos)
        if n == 0:
            break
        h.update(view[:n])
        pos += n
        if progress is not None:
            progress(n)
    return of_hash(h), pos
