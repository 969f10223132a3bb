"""The store's early-writeback sink changes when bytes reach the disk, never which bytes."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from mreg.store import writeback
from mreg.store.hashing import copy_hashing
from mreg.store.local import LocalStore


def test_bytes_through_early_writeback_are_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeback, "STEP", 1 << 20)  # a writeback request every MiB
    data = os.urandom((9 << 20) + 12345)  # not a multiple of the step or of the chunk
    target = tmp_path / "obj"
    with open(target, "wb") as out:
        digest, size = copy_hashing(io.BytesIO(data), [writeback.EarlyWriteback(out)])
    assert target.read_bytes() == data
    assert (digest, size) == ("sha256:" + hashlib.sha256(data).hexdigest(), len(data))


def test_local_store_object_above_the_step_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writeback, "STEP", 1 << 20)
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(5 << 20))
    store = LocalStore(tmp_path / "store")
    digest, size, written = store.put_file(src)
    assert written and size == 5 << 20
    assert store.read_verified(digest) == src.read_bytes()
    assert list((tmp_path / "store" / "tmp").iterdir()) == []  # no temp file left behind
