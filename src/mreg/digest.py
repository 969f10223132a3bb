"""The one owner of digest strings, `sha256:<64 lowercase hex>` (SPEC §4, §5). Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from typing import Any

PREFIX = "sha256:"
DIGEST_PATTERN = r"sha256:[0-9a-f]{64}"  # for larger patterns (records, index lines)
DIGEST_RE = re.compile(rf"^{DIGEST_PATTERN}\Z")


def hasher() -> Any:
    """A fresh hash object of the algorithm digests name (`hashlib.sha256()`)."""
    return hashlib.sha256()


def of_hash(h: Any) -> str:
    """The digest string of a finished hash object from `hasher()`."""
    return PREFIX + str(h.hexdigest())


def of_hex(hexdigest: str) -> str:
    return PREFIX + hexdigest


def of_bytes(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


def is_digest(value: object) -> bool:
    return isinstance(value, str) and DIGEST_RE.match(value) is not None


def hex_of(digest: str) -> str:
    """The 64 hex characters of a digest (ValueError for anything that is not one)."""
    if not is_digest(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return digest[len(PREFIX) :]
