"""The one owner of digest strings, `sha256:<64 lowercase hex>`, and of the object keys they map to
(SPEC §4, §5). Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from mreg.errors import IntegrityError

PREFIX = "sha256:"
DIGEST_PATTERN = r"sha256:[0-9a-f]{64}"  # for larger patterns (records, index lines)
DIGEST_RE = re.compile(rf"^{DIGEST_PATTERN}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")


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
    """The 64 hex characters of a digest; a malformed one (from a manifest) is exit 5."""
    if not is_digest(digest):
        raise IntegrityError(f"malformed digest {digest!r}")
    return digest[len(PREFIX) :]


def object_key(digest: str) -> str:
    """Where an object lives in every store and cache: `sha256/<first 2 hex>/<remaining 62 hex>` (SPEC §5)."""
    h = hex_of(digest)
    return f"sha256/{h[:2]}/{h[2:]}"


def digest_of_key(key: str) -> str | None:
    """The digest an object key (with any prefix before it) names; None for any other key."""
    parts = key.strip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "sha256":
        h = parts[-2] + parts[-1]
        if _HEX64.fullmatch(h):
            return of_hex(h)
    return None
