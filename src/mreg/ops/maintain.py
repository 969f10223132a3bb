"""verify and gc (SPEC §5, §8): the store against what the registry branch references."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mreg.errors import IntegrityError, NotFoundError
from mreg.layout import REGISTRY_BRANCH
from mreg.store.hashing import Progress

if TYPE_CHECKING:
    from mreg.registry import Registry

DEFAULT_GRACE_SECONDS = 24 * 3600


@dataclass
class VerifyResult:
    checked: int = 0
    bytes: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


def referenced_objects(reg: Registry, *, ref: str | None = None) -> dict[str, list[str]]:
    """digest → the versions (and roles) that need it."""
    refs: dict[str, list[str]] = {}
    if ref is not None:
        versions = [reg.resolve(ref)]
    else:
        commit = reg.registry_commit()
        versions = []
        from mreg.registry import Version

        for model in reg.models(commit):
            numbers = reg.versions(model, commit)
            for n, m in reg.load_manifests(model, numbers, commit).items():
                versions.append(Version(model, n, m, commit))
    for v in versions:
        m = v.manifest
        for a in m["artifacts"]:
            refs.setdefault(a["digest"], []).append(f"{v.ref}:{a['path']}")
        env = m["environment"]
        refs.setdefault(env["packages"], []).append(f"{v.ref}:environment.packages")
        if "lockfile" in env:
            refs.setdefault(env["lockfile"]["digest"], []).append(f"{v.ref}:environment.lockfile")
    return refs


def verify(reg: Registry, ref: str | None = None, *, progress: Progress | None = None) -> VerifyResult:
    import hashlib

    from mreg.store.keys import CHUNK

    store = reg.store
    result = VerifyResult()
    for digest, users in sorted(referenced_objects(reg, ref=ref).items()):
        h = hashlib.sha256()
        size = 0
        try:
            with store.open(digest) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(len(chunk))
        except NotFoundError:
            result.missing.append({"digest": digest, "used_by": users})
            continue
        result.checked += 1
        result.bytes += size
        if "sha256:" + h.hexdigest() != digest:
            result.corrupt.append({"digest": digest, "used_by": users})
    return result


@dataclass
class GcResult:
    kept: int = 0
    deleted: list[dict[str, Any]] = field(default_factory=list)
    young: int = 0
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(d["size"] for d in self.deleted)


def gc(reg: Registry, *, dry_run: bool = False, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> GcResult:
    """Delete unreferenced objects older than the grace period: a `register` that has uploaded but not
    yet committed its manifest is younger than that, so gc can never take its objects."""
    reg.sync()
    referenced = set(referenced_objects(reg))
    now = time.time()
    result = GcResult(dry_run=dry_run)
    for obj in reg.store.list_objects():
        if obj.digest in referenced:
            result.kept += 1
        elif now - obj.mtime < grace_seconds:
            result.young += 1
        else:
            result.deleted.append({"digest": obj.digest, "size": obj.size})
            if not dry_run:
                reg.store.delete(obj.digest)
    return result


def corrupt_error(result: VerifyResult) -> IntegrityError:
    first = (result.corrupt or result.missing)[0]
    kind = "corrupt" if result.corrupt else "missing"
    total = len(result.corrupt) + len(result.missing)
    return IntegrityError(
        f"{total} object(s) missing or corrupt in the store; first: {first['digest']} ({kind}) used by {first['used_by'][0]}"
        f" on {REGISTRY_BRANCH}"
    )
