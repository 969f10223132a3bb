"""One contract for every store (SPEC §5): local directory, file://, memory:// and s3:// on a real
S3-compatible server, all through the same `ObjectStore` code paths mreg uses."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from mreg.digest import object_key
from mreg.errors import IntegrityError, NotFoundError, UsageError
from mreg.ports import ObjectStore
from mreg.store import open_store
from mreg.store.fsspec_store import FsspecStore
from mreg.store.local import LocalStore
from mreg.store.s3_store import S3Store


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tamper(store: ObjectStore, digest: str, data: bytes) -> None:
    if isinstance(store, LocalStore):
        p = store.root / object_key(digest)
        p.chmod(0o644)
        p.write_bytes(data)
    elif isinstance(store, S3Store):
        store.transfer.client().put_object(Bucket=store.bucket, Key=store._k(digest), Body=data)
    else:
        assert isinstance(store, FsspecStore)
        store.fs.pipe_file(store._key(digest), data)


def test_put_is_content_addressed_and_skips_stored_objects(store: ObjectStore, tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights" * 1000)
    digest, size, wrote = store.put_file(f)
    assert (digest, size, wrote) == (_digest(f.read_bytes()), 7000, True)
    assert store.exists(digest) and store.size(digest) == 7000
    assert store.put_file(f)[2] is False  # the second put sends nothing
    assert store.put_bytes(b"weights" * 1000, digest) is False
    assert store.read_verified(digest) == f.read_bytes()
    with store.open(digest) as src:
        assert src.read() == f.read_bytes()


def test_missing_objects(store: ObjectStore) -> None:
    d = _digest(b"never stored")
    assert not store.exists(d)
    assert store.size(d) is None
    with pytest.raises(NotFoundError):
        store.read_verified(d)
    store.delete(d)  # deleting what is not there is not an error


def test_multipart_sized_object_round_trips_through_download(store: ObjectStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * (12 * 4096 + 17)  # ~12 MiB: three 5 MiB parts on s3
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    digest, _, _ = store.put_file(f)
    seen: list[int] = []
    sink = io.BytesIO()
    got, n = store.download(digest, [sink], seen.append)
    assert n == len(data) and sum(seen) == len(data)
    assert got == digest and sink.getvalue() == data
    with store.open(digest) as src:
        assert src.read() == data
    if isinstance(store, S3Store):
        head = store.transfer.client().head_object(Bucket=store.bucket, Key=store._k(digest))
        assert head["ETag"].endswith('-3"')  # really went multipart


def test_empty_object(store: ObjectStore, tmp_path: Path) -> None:
    f = tmp_path / "empty"
    f.write_bytes(b"")
    digest, size, _ = store.put_file(f)
    assert size == 0 and store.read_verified(digest) == b""


def test_tampered_object_is_an_integrity_error(store: ObjectStore) -> None:
    data = b"good bytes"
    digest = _digest(data)
    store.put_bytes(data, digest)
    _tamper(store, digest, b"evil bytes")
    with pytest.raises(IntegrityError):
        store.read_verified(digest)
    got, _ = store.download(digest, [io.BytesIO()])
    assert got != digest


def test_list_and_delete(store: ObjectStore) -> None:
    blobs = [b"a", b"bb", b"ccc"]
    for b in blobs:
        store.put_bytes(b, _digest(b))
    listed = {o.digest: o for o in store.list_objects()}
    assert set(listed) == {_digest(b) for b in blobs}
    assert listed[_digest(b"ccc")].size == 3 and listed[_digest(b"ccc")].mtime > 0
    store.delete_many([_digest(b"a"), _digest(b"bb"), _digest(b"never stored")])
    assert [o.digest for o in store.list_objects()] == [_digest(b"ccc")]
    store.delete_many([])


def test_store_url_with_credentials_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        open_store("s3://AKIAXXXX:hunter2secret@bucket/p", default_dir=tmp_path)
    assert "hunter2secret" not in err.value.message
