"""What a remote data URI says about its bytes without downloading them: etag, version, size (SPEC §4).

The fsspec adapter of `mreg register --data NAME=URI`: the one place a data reference meets a driver.
"""

from __future__ import annotations

from typing import Any


def remote_fingerprint(uri: str) -> tuple[dict[str, Any], str | None]:
    """(etag/version/size fields, None), or ({}, why not) when the store cannot tell: an unknown
    scheme, no driver installed, no access. The reason has credentials scrubbed."""
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
        info = fs.info(path)
    except Exception as exc:  # any driver's failure: the reference is still worth recording, by name
        from mreg.store.common import scrub

        why = (str(exc).splitlines() or [""])[0][:200]
        return {}, f"{type(exc).__name__}{': ' + scrub(why) if why else ''}"
    out: dict[str, Any] = {}
    for key in ("ETag", "etag", "md5Hash"):
        if info.get(key):
            out["etag"] = str(info[key]).strip('"')
            break
    for key in ("VersionId", "generation", "version_id"):
        if info.get(key):
            out["version"] = str(info[key])
            break
    if isinstance(info.get("size"), int):
        out["size"] = info["size"]
    return out, None
