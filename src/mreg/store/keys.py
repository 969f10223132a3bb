"""Object keys: `sha256/<first 2 hex>/<remaining 62 hex>` (SPEC §5)."""

from __future__ import annotations

import re

from mreg.digest import of_hex
from mreg.errors import IntegrityError

DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{64})\Z")
CHUNK = 4 * 1024 * 1024


def hex_of(digest: str) -> str:
    m = DIGEST_RE.match(digest)
    if not m:
        raise IntegrityError(f"malformed digest {digest!r}")
    return m.group(1)


def object_key(digest: str) -> str:
    h = hex_of(digest)
    return f"sha256/{h[:2]}/{h[2:]}"


def digest_of_key(key: str) -> str | None:
    parts = key.strip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "sha256":
        h = parts[-2] + parts[-1]
        if re.fullmatch(r"[0-9a-f]{64}", h):
            return of_hex(h)
    return None
