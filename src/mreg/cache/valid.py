"""Which exact bytes passed schema validation: one marker file each, keyed by (bytes, schema, mreg version).

Validation is a pure function of those three, so a pass is remembered: reading a known manifest or
policy then needs no jsonschema import (~40-50 ms, a third of `mreg resolve`). Only passes are
remembered; a failure is re-checked every time.

A marker counts only when it holds its own key: an empty or truncated file (a crash, a full disk, a
hand-made file) is not a pass. `MREG_NO_VALIDATION_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from functools import cache
from pathlib import Path

from mreg._version import __version__
from mreg.cache import cache_root
from mreg.manifest import schema_text


def _marker(key: str) -> Path | None:
    if os.environ.get("MREG_NO_VALIDATION_CACHE"):
        return None
    return cache_root() / "validated" / key[:2] / key[2:]


def _known(key: str) -> bool:
    marker = _marker(key)
    if marker is None:
        return False
    try:
        with open(marker, "rb") as f:
            return f.read(129) == key.encode()
    except OSError:
        return False


def _remember(key: str) -> None:
    marker = _marker(key)
    if marker is not None:
        with contextlib.suppress(OSError):
            marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
            tmp.write_bytes(key.encode())
            os.replace(tmp, marker)


@cache
def _schema_fingerprint(schema_id: str) -> bytes:
    return hashlib.sha256(f"{__version__}\0{schema_text(schema_id)}".encode()).digest()


def _key(data: bytes, schema_id: str) -> str:
    return hashlib.sha256(_schema_fingerprint(schema_id) + b"\0" + data).hexdigest()


def known_valid(data: bytes, schema_id: str) -> bool:
    """These exact bytes passed validation against this exact schema (and mreg version) before."""
    return _known(_key(data, schema_id))


def remember_valid(data: bytes, schema_id: str) -> None:
    _remember(_key(data, schema_id))


class _Memo:
    """`mreg.manifest.ValidationMemo` on the marker files above."""

    def known(self, data: bytes, schema_id: str) -> bool:
        return known_valid(data, schema_id)

    def remember(self, data: bytes, schema_id: str) -> None:
        remember_valid(data, schema_id)


MEMO = _Memo()
