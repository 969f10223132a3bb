"""verify and gc (SPEC §5, §8): the store against what the registry branch references."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg.errors import IntegrityError, MregError, NotFoundError
from mreg.layout import REGISTRY_BRANCH
from mreg.ports import ObjectStore, Progress
from mreg.results import CopyReport, GcReport, VerifyReport

if TYPE_CHECKING:
    from datetime import datetime

    from mreg.context import Context
    from mreg.manifest import Manifest

DEFAULT_GRACE_SECONDS = 24 * 3600


@dataclass
class _Verify:  # filled as verify goes; returned frozen as VerifyReport
    checked: int = 0
    bytes: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # manifests that do not parse: reported, skipped
    repaired: list[str] = field(default_factory=list)  # corrupt objects deleted by --repair
    purged: list[str] = field(default_factory=list)  # missing, but only purged versions named them

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


def referenced_objects(
    ctx: Context, *, ref: str | None = None, invalid: list[str] | None = None, at: datetime | None = None
) -> dict[str, list[str]]:
    """digest → the versions (and roles) that need it.

    Without `ref`: every manifest that was ever on the registry branch (an edit or a delete that
    slipped in before this clone's anchor must not let gc take bytes a tag still names) and the
    manifest at every alias tag's commit (SPEC §3a.5). A manifest that does not parse is named in
    `invalid` and skipped, never a reason to stop.
    """
    from mreg.results import Version

    if ref is not None:
        versions = [ctx.resolve(ref, at, with_aliases=False)]
    elif at is not None:  # the versions registered by then
        commit = ctx.registry_commit(at)
        versions = [
            Version(m, n, doc, commit)
            for m in ctx.models(commit)
            for n, doc in ctx.load_manifests(m, ctx.versions(m, commit), commit).items()
        ]
    else:
        versions = []
        for where, blob in _every_manifest(ctx):
            try:
                m = _parse(blob, where)
            except MregError as exc:
                if invalid is not None:
                    invalid.append(exc.message)
                continue
            versions.append(Version(m["model"], m["version"], m, ""))
    refs: dict[str, list[str]] = {}
    for v in versions:
        m = v.manifest
        for a in m["artifacts"]:
            refs.setdefault(a["digest"], []).append(f"{v.ref}:{a['path']}")
        env = m["environment"]
        refs.setdefault(env["packages"], []).append(f"{v.ref}:environment.packages")
        if "lockfile" in env:
            refs.setdefault(env["lockfile"]["digest"], []).append(f"{v.ref}:environment.lockfile")
    for users in refs.values():
        users[:] = sorted(set(users))
    return refs


def _every_manifest(ctx: Context) -> list[tuple[str, bytes]]:
    """(where, bytes) of each distinct manifest blob in the registry's history and at alias tags."""
    from mreg.git import tags as alias_tags
    from mreg.git.history import record_blobs_ever
    from mreg.layout import manifest_path

    tip = ctx.registry_commit()
    blobs = {oid: f"{REGISTRY_BRANCH}:{path}" for oid, path in record_blobs_ever(ctx.git, tip).items()}
    events = [e for e in alias_tags.read_events(ctx.git, None) if e.version is not None]
    ids = ctx.git.object_ids([f"{e.commit}:{manifest_path(e.model, e.version or 0)}" for e in events])
    for e, tag_oid in zip(events, ids, strict=True):
        if tag_oid is not None:
            blobs.setdefault(tag_oid, f"tag {e.tag}:{manifest_path(e.model, e.version or 0)}")
    oids = sorted(blobs)
    return [(blobs[o], b) for o, b in zip(oids, ctx.git.read_blobs(oids), strict=True) if b is not None]


def _parse(blob: bytes, where: str) -> Manifest:
    from mreg.context import parse_capped

    return parse_capped(blob, where=where)


def verify(
    ctx: Context,
    ref: str | None = None,
    *,
    progress: Progress | None = None,
    jobs: int | None = None,
    repair: bool = False,
    at: datetime | None = None,
) -> VerifyReport:
    """Re-hash every referenced object from the store itself (never the pull cache). With `repair`,
    a corrupt object is deleted, so that registering its file again stores it anew (a register that
    finds an object present never re-uploads it); `repaired` lists them."""
    store = ctx.store
    if jobs is not None:
        store.jobs = jobs
    result = _Verify()
    items = sorted(referenced_objects(ctx, ref=ref, invalid=result.invalid, at=at).items())

    def one(item: tuple[str, list[str]]) -> tuple[str, int] | None:
        digest, _ = item
        try:
            return _rehash(store, digest, progress)
        except NotFoundError:
            return None

    from mreg.store import run_parallel

    outcomes = run_parallel(store, one, items)
    purged = None
    for (digest, users), got in zip(items, outcomes, strict=True):
        if got is None:
            if purged is None:
                from mreg.ops.retention import trusted_purges

                purged = {f"{m}@v{n}" for m, n in trusted_purges(ctx)}
            if all(u.partition(":")[0] in purged for u in users):
                result.purged.append(digest)  # gone by retention, recorded: not a failure
            else:
                result.missing.append({"digest": digest, "used_by": users})
            continue
        result.checked += 1
        result.bytes += got[1]
        if got[0] != digest:
            result.corrupt.append({"digest": digest, "used_by": users})
    if repair:
        for item in result.corrupt:
            store.delete(item["digest"])
            result.repaired.append(item["digest"])
    return VerifyReport(
        result.checked,
        result.bytes,
        tuple(result.missing),
        tuple(result.corrupt),
        tuple(result.invalid),
        tuple(result.repaired),
        tuple(result.purged),
    )


def _rehash(store: ObjectStore, digest: str, progress: Progress | None) -> tuple[str, int]:
    return store.download(digest, [], progress)  # S3: ranged parallel reads, hashed in order


@dataclass
class _Gc:  # filled as gc goes; returned frozen as GcReport
    kept: int = 0
    deleted: list[dict[str, Any]] = field(default_factory=list)
    young: int = 0
    young_bytes: int = 0
    stale_uploads: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(d["size"] for d in self.deleted)


def gc(ctx: Context, *, dry_run: bool = False, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> GcReport:
    """Delete unreferenced objects older than the grace period: a `register` that has uploaded but not
    yet committed its manifest is younger than that, so gc can never take its objects.

    The store is listed *before* the references are read, and the references are read again just
    before deleting: a manifest committed at any point while gc runs keeps its objects.
    """
    if grace_seconds < 0:
        from mreg.errors import UsageError

        raise UsageError("--grace must not be negative")
    store = ctx.store
    result = _Gc(dry_run=dry_run)
    now = time.time()
    ctx.sync()
    _refuse_if_pins_are_missing(ctx)
    listed = list(store.list_objects())
    referenced = set(referenced_objects(ctx, invalid=result.invalid))
    candidates = []
    for obj in listed:
        if obj.digest in referenced:
            result.kept += 1
        elif now - obj.mtime < grace_seconds:
            result.young += 1
            result.young_bytes += obj.size
        else:
            candidates.append(obj)
    if candidates and not dry_run:
        ctx.sync()
        again = _fresh_references(ctx)
        still = [o for o in candidates if o.digest not in again]
        result.kept += len(candidates) - len(still)
        candidates = still
    result.deleted = [{"digest": o.digest, "size": o.size} for o in candidates]
    stale = store.stale_uploads(now - grace_seconds)
    result.stale_uploads = [asdict(upload) for upload in stale]
    if not dry_run:
        store.delete_many([o.digest for o in candidates])
        if stale:
            store.remove_stale(stale)
    return GcReport(
        result.kept,
        tuple(result.deleted),
        result.young,
        result.young_bytes,
        tuple(result.stale_uploads),
        tuple(result.invalid),
        dry_run=result.dry_run,
    )


def _refuse_if_pins_are_missing(ctx: Context) -> None:
    """gc deletes what no manifest names, so it must see every manifest production needs: a pin on
    the governed branch whose version the registry branch does not hold (with that digest) means
    the history this clone sees is not the one the reviewers approved from. Nothing is deleted."""
    from mreg.layout import ALIASES_REF
    from mreg.policy import pins_of, read_policies

    governed = ctx.git.rev_parse(ALIASES_REF)
    if governed is None:
        return
    tip = ctx.registry_commit()
    for model, policy in read_policies(ctx.git, governed).items():
        for alias, pin in pins_of(policy).items():
            if pin.version is None:
                continue
            try:
                digest = ctx.load_manifest(model, pin.version, tip)["digest"]
            except MregError:
                digest = None
            if digest is None or (pin.digest is not None and digest != pin.digest):
                raise IntegrityError(
                    f"refusing to collect garbage: {model}@{alias} is pinned to {pin.describe()} on mreg/aliases, "
                    f"which {REGISTRY_BRANCH} here does not hold; its objects could be deleted",
                    hint="the registry branch may have been rewritten: run 'mreg check' and restore it first",
                )


def _fresh_references(ctx: Context) -> set[str]:
    """The references at the registry branch's current tip (bypassing any per-process memo)."""
    return set(referenced_objects(ctx))


@dataclass
class _Copy:  # filled as the copy goes; returned frozen as CopyReport
    copied: list[str] = field(default_factory=list)
    present: int = 0
    bytes: int = 0
    invalid: list[str] = field(default_factory=list)
    dry_run: bool = False


def copy_store(ctx: Context, to: str, *, dry_run: bool = False, source_url: str | None = None) -> CopyReport:
    """Every object a manifest or tag names, copied from this registry's store to the store at `to`,
    verified on the way (issue 12: moving from the per-clone store to a shared one). Objects already
    there are skipped, so a rerun after an interruption copies only the rest."""
    import os
    import tempfile

    from mreg.errors import UsageError
    from mreg.store import open_store
    from mreg.store.hashing import copy_hashing

    # --from: e.g. the per-clone store after `init --store` moved the registry to a new one
    source = open_store(source_url, default_dir=ctx.default_store_dir, env=False) if source_url else ctx.store
    from mreg.store import checked_store_url

    target = open_store(
        checked_store_url(to, flag="--to", must_exist=False), default_dir=ctx.default_store_dir, env=False
    )
    if target.url == source.url:
        raise UsageError(f"--to {to}: that is the store this registry uses already")
    result = _Copy(dry_run=dry_run)
    for digest in sorted(referenced_objects(ctx, invalid=result.invalid)):
        if target.exists(digest):
            result.present += 1
            continue
        result.copied.append(digest)
        if dry_run:
            continue
        fd, tmp = tempfile.mkstemp(prefix="mreg-copy-")
        try:
            with os.fdopen(fd, "wb") as out, source.open(digest) as src:
                got, size = copy_hashing(src, [out])
            if got != digest:
                raise IntegrityError(
                    f"object {digest} in store {source.url} is corrupt: its bytes hash to {got}"
                )
            stored, _, _ = target.put_file(Path(tmp))
            if stored != digest:
                raise IntegrityError(f"object {digest} changed while it was copied")
            result.bytes += size
        finally:
            os.unlink(tmp)
    return CopyReport(
        tuple(result.copied), result.present, result.bytes, tuple(result.invalid), dry_run=result.dry_run
    )
