"""mreg.store.hashing: the in-kernel copy beside a hashing reader (issue 14), and its fallback.

Real files on the real file system: the fallback is forced with MREG_COPY=python, a change during
the copy is made by the progress callback (which runs between the hasher's reads).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mreg.digest import object_key
from mreg.errors import ConflictError
from mreg.store import hashing
from mreg.store.hashing import CHUNK, ChangedWhileReading, copy_file_hashing
from mreg.store.local import LocalStore


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 12345])
def test_kernel_copy_gives_the_same_bytes_and_digest(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    dst = tmp_path / "dst.bin"
    seen: list[int] = []
    with open(src, "rb") as f, open(dst, "wb") as out:
        got = copy_file_hashing(f, out.fileno(), seen.append)
    if not hasattr(os, "copy_file_range"):
        assert got is None
        return
    assert got == (_sha(data), size)
    assert dst.read_bytes() == data
    assert sum(seen) == size  # progress counts every byte once


def test_forced_fallback_writes_nothing_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MREG_COPY", "python")
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    dst = tmp_path / "dst.bin"
    with open(src, "rb") as f, open(dst, "wb") as out:
        assert copy_file_hashing(f, out.fileno()) is None
    assert dst.read_bytes() == b""


@pytest.mark.skipif(not hasattr(os, "copy_file_range"), reason="no copy_file_range here")
def test_a_file_changed_during_the_copy_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * CHUNK))
    dst = tmp_path / "dst.bin"

    def scribble(_: int) -> None:  # between two reads of the hasher: another process writing the file
        with open(src, "r+b") as w:
            w.seek(2 * CHUNK)
            w.write(b"changed")

    with open(src, "rb") as f, open(dst, "wb") as out, pytest.raises(ChangedWhileReading):
        copy_file_hashing(f, out.fileno(), scribble)


@pytest.mark.parametrize("mode", ["kernel", "python"])
def test_local_store_put_file_stores_what_the_digest_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "python":
        monkeypatch.setenv("MREG_COPY", "python")
    data = os.urandom(2 * CHUNK + 7)
    src = tmp_path / "model.bin"
    src.write_bytes(data)
    store = LocalStore(tmp_path / "store")
    digest, size, wrote = store.put_file(src)
    assert (digest, size, wrote) == (_sha(data), len(data), True)
    stored = store.root / object_key(digest)
    assert stored.read_bytes() == data
    assert store.put_file(src)[2] is False  # already there: nothing written


@pytest.mark.parametrize("mode", ["kernel", "python"])
def test_a_file_changed_while_stored_is_refused_or_stored_as_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Kernel copy: refused (exit 4), nothing left in the store. Python copy (one pass): whatever was
    read is what was hashed and written, so the object always matches its digest."""
    if mode == "python":
        monkeypatch.setenv("MREG_COPY", "python")
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(3 * CHUNK))
    store = LocalStore(tmp_path / "store")
    calls = [0]

    def scribble(_: int) -> None:
        calls[0] += 1
        if calls[0] == 1:
            with open(src, "r+b") as w:
                w.seek(2 * CHUNK)
                w.write(b"changed")

    if mode == "kernel" and hasattr(os, "copy_file_range"):
        with pytest.raises(ConflictError) as exc:
            store.put_file(src, progress=scribble)
        assert exc.value.exit_code == 4 and "changed while it was being stored" in exc.value.message
        assert [p for p in store.root.rglob("*") if p.is_file()] == []  # no object, no temp file
        return
    digest, _, _ = store.put_file(src, progress=scribble)
    assert _sha((store.root / object_key(digest)).read_bytes()) == digest


def test_where_copy_file_range_is_refused_the_copy_falls_back(tmp_path: Path) -> None:
    """A destination copy_file_range cannot write to (here: a pipe, EINVAL/EBADF/ESPIPE on Linux)
    makes the probe say no; nothing is half-copied."""
    if not hasattr(os, "copy_file_range"):
        pytest.skip("no copy_file_range here")
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc" * 1000)
    r, w = os.pipe()
    try:
        with open(src, "rb") as f:
            probe = hashing._kernel_copy_works(f.fileno(), w, 3000)
    finally:
        os.close(r)
        os.close(w)
    assert probe is False
