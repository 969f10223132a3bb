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
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from mreg._version import __version__
from mreg.cache import cache_root
from mreg.manifest import schema_text

MAX_REMEMBERED = 1024 * 1024  # bytes of a marker read (a remembered document is at most this)


def _marker(key: str) -> Path | None:
    if os.environ.get("MREG_NO_VALIDATION_CACHE"):
        return None
    return cache_root() / "validated" / key[:2] / key[2:]


def _read(key: str) -> bytes | None:
    """The marker's content after its key line, when it holds its own key; None when there is none."""
    marker = _marker(key)
    if marker is None:
        return None
    try:
        with open(marker, "rb") as f:
            data = f.read(MAX_REMEMBERED)
    except OSError:
        return None
    head, _, rest = data.partition(b"\n")
    return rest if head == key.encode() else None


def _known(key: str) -> bool:
    return _read(key) is not None


def _remember(key: str, doc: Any = None) -> None:
    """A pass, and the parsed document with it (JSON, when it is plain data and small): reading the
    same bytes again then costs a JSON parse, not a YAML one (~20 µs against ~0.5 ms a manifest)."""
    marker = _marker(key)
    if marker is None:
        return
    body = b""
    if doc is not None:
        try:
            body = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            body = b""
        if len(body) > MAX_REMEMBERED - 200:
            body = b""
    with contextlib.suppress(OSError):
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
        tmp.write_bytes(key.encode() + b"\n" + body)
        os.replace(tmp, marker)


@cache
def _schema_fingerprint(schema_id: str) -> bytes:
    return hashlib.sha256(f"{__version__}\0{schema_text(schema_id)}".encode()).digest()


def _key(data: bytes, schema_id: str) -> str:
    return hashlib.sha256(_schema_fingerprint(schema_id) + b"\0" + data).hexdigest()


def known_valid(data: bytes, schema_id: str) -> bool:
    """These exact bytes passed validation against this exact schema (and mreg version) before."""
    return _known(_key(data, schema_id))


def remember_valid(data: bytes, schema_id: str, doc: Any = None) -> None:
    _remember(_key(data, schema_id), doc)


def recall_valid(data: bytes, schema_id: str) -> dict[str, Any] | None:
    """The document these exact bytes parsed to when they passed validation, or None (not known, or
    remembered without it): the YAML parse of a known file is skipped."""
    rest = _read(_key(data, schema_id))
    if not rest:
        return None
    try:
        doc = json.loads(rest)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


class _Memo:
    """`mreg.manifest.ValidationMemo` on the marker files above."""

    def known(self, data: bytes, schema_id: str) -> bool:
        return known_valid(data, schema_id)

    def recall(self, data: bytes, schema_id: str) -> dict[str, Any] | None:
        return recall_valid(data, schema_id)

    def remember(self, data: bytes, schema_id: str, doc: Any = None) -> None:
        remember_valid(data, schema_id, doc)


MEMO = _Memo()
