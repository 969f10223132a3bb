"""One pass over the bytes that both hashes and copies."""

from __future__ import annotations

import hashlib
import os
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
