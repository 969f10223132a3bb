"""`mreg notify` (SPEC §12): deliver every event after each outlet's cursor, at least once, in order.

Events come from git (mreg.events): registry commits that added a manifest or an evaluation record
(in the branch's order), alias tags (by seq), promotion review branches. Each outlet has a **cursor**,
`refs/mreg/notify/<outlet>` on the remote (or in the clone, without one): a commit holding
`cursor.json` — how far each source has been delivered. A run takes the outlet's **lease**
(`refs/mreg/notify-lease/<outlet>`, created and released by compare-and-swap), so two CI jobs at once
never deliver the same event twice: the second waits for the first, then finds nothing left. After
deliveries the cursor advances by compare-and-swap too; a run killed between a delivery and its
cursor write redelivers that event next time (at least once; receivers drop it by its id). A failed
outlet stops at its failed event — the next run retries from there — and never blocks the others.

A new outlet starts at the moment it appeared in `mreg.yaml` on the governed branch: what happened
before it was configured is not sent.
"""

from __future__ import annotations

import heapq
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mreg import events as ev
from mreg.errors import IntegrityError, MregError, RemoteError
from mreg.layout import (
    ALIASES_REF,
    CONFIG_PATH,
    REGISTRY_REF,
    REVIEW_PREFIX,
    evaluation_of_path,
    lifecycle_of_path,
    manifest_path,
    record_of_path,
    tracking_ref,
)
from mreg.results import OutletRun

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.git.repo import GitRepo
    from mreg.git.tags import AliasEvent
    from mreg.integrations.outlets import Outlet

CURSOR_PREFIX = "refs/mreg/notify/"
LEASE_PREFIX = "refs/mreg/notify-lease/"
SEEN_PREFIX = "refs/mreg/notify-seen/"  # the remote's cursor, fetched here to read it
CURSOR_SCHEMA = "mreg/notify-cursor/v1"
# A run renews its lease while it delivers; a killed run's lease lapses after this (MREG_NOTIFY_LEASE:
# tests shorten it). Renewed before a delivery when less than RENEW_BELOW is left: one delivery takes
# 170 s at worst with the default retries (integrations/delivery.py).
LEASE_SECONDS = max(1, int(os.environ.get("MREG_NOTIFY_LEASE", "600")))
RENEW_BELOW = min(240, LEASE_SECONDS * 0.4)
WAIT_FOR_LEASE = float(os.environ.get("MREG_NOTIFY_WAIT", "30"))  # seconds to wait for another run
FLUSH_EVERY = 20  # deliveries between cursor writes (a crash redelivers at most these)
MAX_CURSOR_BYTES = 4 * 1024 * 1024


# -- the cursor ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cursor:
    """How far an outlet's events have been delivered, per source."""

    since: int  # events before this time predate the outlet: never sent
    registry: str | None = None  # the last registry commit whose events were all delivered
    tags: Mapping[str, int] = field(default_factory=dict)  # "model/alias" -> highest seq delivered
    reviews: Mapping[str, str] = field(default_factory=dict)  # review branch -> head delivered

    def to_bytes(self, outlet: str) -> bytes:
        doc = {
            "schema": CURSOR_SCHEMA,
            "outlet": outlet,
            "since": self.since,
            "registry": self.registry,
            "tags": dict(sorted(self.tags.items())),
            "reviews": dict(sorted(self.reviews.items())),
        }
        return (json.dumps(doc, indent=1, sort_keys=False) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, where: str) -> Cursor:
        """A cursor read from git is hostile input like any record: bounded, typed, or refused."""
        if len(data) > MAX_CURSOR_BYTES:
            raise IntegrityError(f"{where}: {len(data):,} bytes, more than a cursor can be")
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: `[[[[…` nested 200,000 deep
            raise IntegrityError(f"{where}: not a cursor (unreadable JSON)") from None
        ok = (
            isinstance(doc, dict)
            and doc.get("schema") == CURSOR_SCHEMA
            and _is_int(doc.get("since"))
            and (doc.get("registry") is None or _is_sha(doc.get("registry")))
            and isinstance(doc.get("tags"), dict)
            and all(isinstance(k, str) and _is_int(v) for k, v in doc["tags"].items())
            and isinstance(doc.get("reviews"), dict)
            and all(isinstance(k, str) and _is_sha(v) for k, v in doc["reviews"].items())
        )
        if not ok:
            raise IntegrityError(f"{where}: not a {CURSOR_SCHEMA} cursor")
        return cls(int(doc["since"]), doc["registry"], dict(doc["tags"]), dict(doc["reviews"]))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**53


def _is_sha(v: Any) -> bool:
    return isinstance(v, str) and len(v) in (40, 64) and all(c in "0123456789abcdef" for c in v)


def advance(cursor: Cursor, event: ev.Event) -> Cursor:
    """The cursor once `event` is delivered (or filtered out: it advances all the same)."""
    if event.source == "registry":
        return replace(cursor, registry=event.cursor[0])
    if event.source == "tags":
        key, seq = event.cursor[0], int(event.cursor[1])
        return replace(cursor, tags={**cursor.tags, key: max(seq, cursor.tags.get(key, 0))})
    if event.source == "reviews":
        branch, head = event.cursor
        return replace(cursor, reviews={**cursor.reviews, branch: head})
    return cursor


# -- where cursors and leases live: the remote, or this clone ------------------------------------
class Refs:
    """Compare-and-swap on one ref, on the remote when the registry has one (else in this clone)."""

    def __init__(self, git: GitRepo, remote: str | None) -> None:
        self.git = git
        self.remote = remote

    def read(self, ref: str) -> str | None:
        if self.remote is None:
            return self.git.rev_parse(ref)
        return self.git.ls_remote(self.remote, ref)

    def fetch(self, ref: str, sha: str) -> bool:
        """Bring the object `sha` the remote's `ref` names, when this clone lacks it."""
        if self.remote is None or self.git.has_object(sha):
            return True
        local = SEEN_PREFIX + ref.removeprefix("refs/mreg/")
        return self.git.fetch_refspec(self.remote, f"+{ref}:{local}") and self.git.has_object(sha)

    def swap(self, ref: str, new: str | None, old: str | None) -> bool:
        """`ref` from `old` (None: absent) to `new` (None: delete); False when it was not at `old`."""
        if self.remote is None:
            if new is None:
                return self.git.delete_ref(ref, old)
            return self.git.update_ref(ref, new, old, "mreg: notify")
        return self.git.push_lease(self.remote, ref, new, old)


# -- the lease -------------------------------------------------------------------------------------
@dataclass
class Lease:
    refs: Refs
    ref: str
    sha: str
    expires: float

    def renew(self) -> bool:
        new = _lease_commit(self.refs.git, time.time() + LEASE_SECONDS)
        if self.refs.swap(self.ref, new, self.sha):
            self.sha, self.expires = new, time.time() + LEASE_SECONDS
            return True
        return False

    def release(self) -> None:
        self.refs.swap(self.ref, None, self.sha)


def _lease_commit(git: GitRepo, expires: float) -> str:
    holder = f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"
    tree = git.write_tree(None, {"lease": f"holder {holder}\nexpires {int(expires)}\n".encode()})
    return git.commit_tree(tree, [], f"mreg notify lease: {holder} until {int(expires)}\n")


def lease_expiry(git: GitRepo, sha: str) -> float:
    blob = git.read_blob(f"{sha}:lease")
    for line in (blob or b"").decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(" ")
        if key == "expires" and value.isascii() and value.isdigit() and len(value) < 12:
            return float(value)
    return 0.0  # unreadable: treat as lapsed


def take_lease(refs: Refs, outlet: str, *, wait: float = WAIT_FOR_LEASE) -> Lease | None:
    """The outlet's lease, or None when another run still holds it after `wait` seconds."""
    ref = LEASE_PREFIX + outlet
    deadline = time.monotonic() + wait
    while True:
        held = refs.read(ref)
        expiry = lease_expiry(refs.git, held) if held is not None and refs.fetch(ref, held) else 0.0
        if expiry > time.time() + 2 * LEASE_SECONDS:  # no run takes a lease that long: written by hand
            expiry = 0.0
        if held is not None and expiry > time.time():
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)
            continue
        expires = time.time() + LEASE_SECONDS
        sha = _lease_commit(refs.git, expires)
        if refs.swap(ref, sha, held):  # absent, or a lapsed one replaced
            return Lease(refs, ref, sha, expires)
        if time.monotonic() >= deadline:
            return None


# -- collecting events ---------------------------------------------------------------------------
def collect(ctx: Context, cursor: Cursor) -> list[ev.Event]:
    """Every event after the cursor, in delivery order: each source in its own order (registry
    commits as the branch has them, an alias's tags by seq), merged by time."""
    sources = [
        _registry_events(ctx, cursor),
        _tag_events(ctx, cursor),
        _review_events(ctx, cursor),
    ]
    return list(heapq.merge(*sources, key=lambda e: e.timestamp))


def _registry_events(ctx: Context, cursor: Cursor) -> list[ev.Event]:
    tip = ctx.registry_commit()
    start = cursor.registry
    if start is not None and not ctx.git.is_ancestor(start, tip):
        start = None  # not in this history (a cursor from elsewhere): fall back to `since`
    if start is None:
        start = ctx.git.commit_before(REGISTRY_REF, cursor.since)
    if start == tip:
        return []
    added = _added_paths(ctx.git, tip, start)
    specs = [f"{sha}:{path}" for sha, _, _, path in added]
    specs += [
        f"{sha}:{manifest_path(rec[0], rec[1])}"
        for sha, _, _, path in added
        if (rec := evaluation_of_path(path) or lifecycle_of_path(path))
    ]
    blobs = dict(zip(specs, ctx.git.read_blobs(specs), strict=True)) if specs else {}
    out: list[ev.Event] = []
    for sha, stamp, who, path in added:
        made = _record_event(ctx, sha, stamp, who, path, blobs)
        if made is not None:
            out.append(made)
        else:  # nothing to send for this path, but the cursor passes it
            out.append(ev.Event("", f"skip:{sha}:{path}", stamp, "", "", {}, "registry", (sha,)))
    return out


def _record_event(
    ctx: Context, sha: str, stamp: int, who: str, path: str, blobs: Mapping[str, bytes | None]
) -> ev.Event | None:
    from mreg.context import parse_capped

    cursor = (sha,)
    if (rec := record_of_path(path)) is not None:
        model, version = rec
        blob = blobs.get(f"{sha}:{path}")
        try:
            m = parse_capped(blob, where=path) if blob is not None else None
        except MregError as exc:
            ctx.notify(f"notify: {exc.message}: no event for it")
            return None
        if m is None:
            return None
        data = {
            "version": version,
            "digest": m["digest"],
            "message": m.get("message"),
            "parent": m.get("parent"),
            "by": who,
            "commit": sha,
            "path": path,
        }
        return ev.Event(
            ev.VERSION_REGISTERED,
            f"{model}@v{version}:{m['digest']}",
            stamp,
            model,
            f"{model}@v{version}",
            data,
            "registry",
            cursor,
        )
    if (erec := evaluation_of_path(path)) is not None:
        from mreg.cache.valid import MEMO
        from mreg.evaluation import check_binding, dataset_identity, parse_evaluation

        model, version, number = erec
        blob, manifest = blobs.get(f"{sha}:{path}"), blobs.get(f"{sha}:{manifest_path(model, version)}")
        try:
            if blob is None or manifest is None:
                return None
            record = parse_evaluation(blob, where=path, model=model, version=version, memo=MEMO)
            digest = parse_capped(manifest, where=manifest_path(model, version))["digest"]
            check_binding(record, where=path, ref=f"{model}@v{version}", version_digest=digest)
        except MregError as exc:
            ctx.notify(f"notify: {exc.message}: no event for it")
            return None
        data = {
            "version": version,
            "number": number,
            "dataset": record["dataset"]["name"],
            "dataset_identity": dataset_identity(record["dataset"]),
            "metrics": dict(record["metrics"]),
            "message": record.get("message"),
            "by": record["created_by"],
            "commit": sha,
            "path": path,
        }
        return ev.Event(
            ev.EVALUATION_ADDED,
            f"{path}:{sha}",
            stamp,
            model,
            f"{model}@v{version}",
            data,
            "registry",
            cursor,
        )
    if (lrec := lifecycle_of_path(path)) is not None:
        return _lifecycle_event(ctx, sha, stamp, who, path, lrec, blobs)
    return None


def _lifecycle_event(
    ctx: Context,
    sha: str,
    stamp: int,
    who: str,
    path: str,
    lrec: tuple[str, int, int],
    blobs: Mapping[str, bytes | None],
) -> ev.Event | None:
    """An archive, unarchive or purge record (issue 20); `by` is the commit's author."""
    from mreg.cache.valid import MEMO
    from mreg.context import parse_capped
    from mreg.lifecycle import parse_lifecycle

    model, version, number = lrec
    blob, manifest = blobs.get(f"{sha}:{path}"), blobs.get(f"{sha}:{manifest_path(model, version)}")
    try:
        if blob is None or manifest is None:
            return None
        digest = parse_capped(manifest, where=manifest_path(model, version))["digest"]
        record = parse_lifecycle(
            blob, where=path, model=model, version=version, version_digest=digest, memo=MEMO
        )
    except MregError as exc:
        ctx.notify(f"notify: {exc.message}: no event for it")
        return None
    data = {
        "version": version,
        "number": number,
        "event": record["event"],
        "reason": record["reason"],
        "bytes_freed": record.get("bytes_freed"),
        "by": who,
        "commit": sha,
        "path": path,
    }
    return ev.Event(
        ev.LIFECYCLE_CHANGED, f"{path}:{sha}", stamp, model, f"{model}@v{version}", data, "registry", (sha,)
    )


def _added_paths(git: GitRepo, tip: str, start: str | None) -> list[tuple[str, int, str, str]]:
    """(commit, time, author, path) of every record the registry branch's commits after `start`
    added, oldest first."""
    from mreg.git.history import added_files

    found = added_files(git, tip, "models", since=start, oldest_first=True)
    return [a for a in found if record_of_path(a[3]) or evaluation_of_path(a[3]) or lifecycle_of_path(a[3])]


def _tag_events(ctx: Context, cursor: Cursor) -> list[ev.Event]:
    from mreg.git import tags as alias_tags

    out: list[ev.Event] = []
    governed = ctx.governed_commit()
    for (model, alias), seqs in sorted(alias_tags.tag_seqs(ctx.git).items()):
        done = cursor.tags.get(f"{model}/{alias}", 0)
        new = [s for s in seqs if s > done]
        if not new:
            continue
        every = alias_tags.read_events(ctx.git, model, alias)
        from mreg.ops.inspect import reviewed_flags

        reviewed = reviewed_flags(ctx, model, alias, every, governed)
        wanted = set(new)
        for e in every:
            if e.seq in wanted:
                out.append(_alias_event(e, reviewed.get(e.tag, False)))
        # seqs that are no record (malformed, lightweight) pass the cursor without an event
        for seq in sorted(set(new) - {e.seq for e in every}):
            out.append(
                ev.Event(
                    "",
                    f"skip:{model}/{alias}/{seq}",
                    0,
                    model,
                    "",
                    {},
                    "tags",
                    (f"{model}/{alias}", str(seq)),
                )
            )
    out.sort(key=lambda e: (e.timestamp, e.cursor))
    return _seq_order_per_alias(out)


def _seq_order_per_alias(found: list[ev.Event]) -> list[ev.Event]:
    """Time order across aliases, seq order within one: an alias's cursor is its highest seq sent, so
    a tag with a skewed clock must never be sent before a lower seq of its alias."""
    slots: dict[str, list[int]] = {}
    for i, e in enumerate(found):
        slots.setdefault(e.cursor[0], []).append(i)
    out = list(found)
    for positions in slots.values():
        ordered = sorted((found[i] for i in positions), key=lambda e: int(e.cursor[1]))
        for i, e in zip(positions, ordered, strict=True):
            out[i] = e
    return out


def _alias_event(e: AliasEvent, reviewed: bool) -> ev.Event:
    data = {
        "alias": e.alias,
        "version": e.version,
        "previous": e.previous,
        "move": e.event,
        "digest": e.digest,
        "reason": e.reason,
        "request": e.request,
        "reviewed": reviewed,
        "by": e.tagger,
        "tag": e.tag,
    }
    return ev.Event(
        ev.ALIAS_MOVED,
        f"{e.tag}:{e.commit}:{e.version}",
        e.timestamp,
        e.model,
        f"{e.model}@{e.alias}",
        data,
        "tags",
        (f"{e.model}/{e.alias}", str(e.seq)),
    )


def _review_events(ctx: Context, cursor: Cursor) -> list[ev.Event]:
    remote = ctx.branches.remote
    if remote is None:
        return []
    prefix = tracking_ref(remote, REVIEW_PREFIX)
    registered: dict[str, set[int]] = {}
    for path in ctx.git.blob_ids(ctx.registry_commit(), "models"):
        rec = record_of_path(path)
        if rec is not None:
            registered.setdefault(rec[0], set()).add(rec[1])
    out = []
    for row in ctx.git.for_each_ref(
        prefix,
        (
            "%(refname)",
            "%(objectname)",
            "%(committerdate:unix)",
            "%(authorname) <%(authoremail)>",
            "%(subject)",
        ),
    ):
        if len(row) < 5:
            continue
        ref, head, when, who, subject = row[:5]
        branch = ref.removeprefix(tracking_ref(remote, ""))
        if not _is_sha(head) or cursor.reviews.get(branch) == head:
            continue
        parts = branch.removeprefix(REVIEW_PREFIX).split("/")
        if len(parts) != 3:
            continue
        model, alias, target = parts
        digits = target[1:]
        ok = target[:1] == "v" and digits.isascii() and digits.isdigit() and len(digits) <= 9
        version = int(digits) if ok else None
        if target != "demote" and (version is None or version not in registered.get(model, ())):
            continue  # a branch named like a proposal that proposes nothing registered: no event
        stamp = int(when) if when.isascii() and when.isdigit() and len(when) < 12 else 0
        data = {
            "alias": alias,
            "version": version,
            "branch": branch,
            "head": head,
            "reason": subject[:500] or None,
            "by": who[:300],
        }
        out.append(
            ev.Event(
                ev.REVIEW_REQUESTED,
                f"{branch}:{head}",
                stamp,
                model,
                f"{model}@{alias}",
                data,
                "reviews",
                (branch, head),
            )
        )
    out.sort(key=lambda e: (e.timestamp, e.cursor))
    return out


def _registry_url(ctx: Context) -> str | None:
    from mreg.secrets import strip_credentials

    remote = ctx.branches.remote
    url = ctx.git.remote_url(remote) if remote else None
    return strip_credentials(url) if url else None


# -- delivering ------------------------------------------------------------------------------------
def outlet_since(ctx: Context, name: str) -> int:
    """When the outlet appeared in mreg.yaml on the governed branch (the commit time of the oldest
    revision, in the unbroken run up to the tip, whose config names it); now, when none does."""
    from mreg.manifest import load_yaml

    governed = ctx.git.rev_parse(ALIASES_REF)
    if governed is None:
        return int(time.time())
    since = int(time.time())
    log = ctx.git.run(
        "log",
        "--first-parent",
        "-200",
        "--format=%H %ct",
        "--end-of-options",
        governed,
        "--",
        CONFIG_PATH,
        check=False,
    ).stdout.decode("ascii", "replace")
    revisions = []
    for line in log.splitlines():
        sha, _, stamp = line.partition(" ")
        if not _is_sha(sha) or not stamp.isdigit():
            break
        revisions.append((sha, stamp))
    blobs = ctx.git.read_blobs([f"{sha}:{CONFIG_PATH}" for sha, _ in revisions])  # one cat-file for all
    for (_, stamp), blob in zip(revisions, blobs, strict=True):
        try:
            doc = load_yaml(blob, where=CONFIG_PATH) if blob is not None else None
        except MregError:
            doc = None
        outlets = ((doc or {}).get("notify") or {}).get("outlets") if isinstance(doc, dict) else None
        if not isinstance(outlets, list) or not any(
            isinstance(o, dict) and o.get("name") == name for o in outlets
        ):
            break
        since = int(stamp)
    return since


def load_cursor(ctx: Context, refs: Refs, outlet: str) -> tuple[Cursor, str | None]:
    """The outlet's cursor and the commit holding it (None: it has none yet, it starts now)."""
    ref = CURSOR_PREFIX + outlet
    sha = refs.read(ref)
    if sha is None:
        return Cursor(since=outlet_since(ctx, outlet)), None
    if not refs.fetch(ref, sha):
        raise RemoteError(f"cannot fetch {ref} from the remote")
    blob = ctx.git.read_blob(f"{sha}:cursor.json")
    if blob is None:
        raise IntegrityError(f"{ref} holds no cursor.json", hint=_CURSOR_HINT)
    try:
        return Cursor.from_bytes(blob, where=ref), sha
    except IntegrityError as exc:
        raise IntegrityError(exc.message, hint=_CURSOR_HINT) from None


_CURSOR_HINT = (
    "someone wrote the cursor by hand; delete that ref to start the outlet again from when it was "
    "configured (events since then are sent again, with their ids)"
)


def save_cursor(ctx: Context, refs: Refs, outlet: str, cursor: Cursor, old: str | None) -> str:
    """Write the cursor by compare-and-swap; IntegrityError when someone else moved it (no lease?)."""
    tree = ctx.git.write_tree(None, {"cursor.json": cursor.to_bytes(outlet)})
    sha = ctx.git.commit_tree(tree, [], f"mreg notify: {outlet}\n")
    if not refs.swap(CURSOR_PREFIX + outlet, sha, old):
        raise IntegrityError(f"{CURSOR_PREFIX}{outlet} moved while this run held its lease")
    return sha


def run_outlet(
    ctx: Context,
    outlet: Outlet,
    *,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    on_event: Callable[[str, Mapping[str, Any]], None] | None = None,
) -> OutletRun:
    from mreg.integrations.delivery import deliver
    from mreg.integrations.outlets import request_for, wants

    env = os.environ if env is None else env
    refs = Refs(ctx.git, ctx.branches.remote if ctx.branches.online else None)
    lease = None if dry_run else take_lease(refs, outlet.name)
    if lease is None and not dry_run:
        return OutletRun(outlet.name, busy=True)
    try:
        cursor, at = load_cursor(ctx, refs, outlet.name)
        registry = _registry_url(ctx)
        github_api, default_repo = _github(ctx, env)
        delivered: list[str] = []
        summaries: list[str] = []
        skipped = 0
        pending = 0
        failed = None
        for e in collect(ctx, cursor):
            body = e.to_json(registry)
            if lease is not None and lease.expires - time.time() < RENEW_BELOW and not lease.renew():
                failed = "lost its lease (another run took it over)"
                break
            # `since` only bounds a new cursor's first run: times are whatever a committer or
            # tagger claimed, so after that the cursor's positions alone decide what is sent
            if e.type and (at is not None or e.timestamp >= cursor.since) and wants(outlet, body):
                if on_event is not None:
                    on_event(outlet.name, body)
                if not dry_run:
                    result = deliver(
                        request_for(outlet, body, env, github_api=github_api, default_repository=default_repo)
                    )
                    if not result.ok:
                        failed = f"{e.type} {e.subject} ({e.id}): {result.error}"
                        break
                delivered.append(e.id)
                summaries.append(f"{e.time} {e.type}: {ev.summary(body)} [{e.id}]")
                pending += 1
            elif e.type:
                skipped += 1
            cursor = advance(cursor, e)
            if not dry_run and lease is not None and pending >= FLUSH_EVERY:
                at = save_cursor(ctx, refs, outlet.name, cursor, at)
                pending = 0
        if not dry_run:
            at = save_cursor(ctx, refs, outlet.name, cursor, at)
        return OutletRun(outlet.name, tuple(delivered), skipped, failed, summaries=tuple(summaries))
    finally:
        if lease is not None:
            lease.release()


def _github(ctx: Context, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    from mreg.forge.github import target_from_env

    remote = ctx.branches.remote
    try:
        target = target_from_env(ctx.git.remote_url(remote) if remote else None, env)
    except MregError:
        return None, None
    return (target.api_url, target.slug) if target is not None else (None, None)


def notify(
    ctx: Context,
    *,
    outlet: str | None = None,
    dry_run: bool = False,
    on_event: Callable[[str, Mapping[str, Any]], None] | None = None,
) -> list[OutletRun]:
    """Every configured outlet (or the one named), each independently: one that fails never stops
    the others; its run says why, and its cursor stays before the event that failed."""
    from mreg.errors import UsageError
    from mreg.integrations.outlets import parse_outlets

    ctx.require_initialised()
    outlets = parse_outlets(ctx.config.raw)
    if outlet is not None:
        outlets = [o for o in outlets if o.name == outlet]
        if not outlets:
            raise UsageError(
                f"--outlet {outlet}: no such outlet in {CONFIG_PATH}",
                hint="'mreg notify --dry-run' lists them",
            )
    runs = []
    for o in outlets:
        try:
            runs.append(run_outlet(ctx, o, dry_run=dry_run, on_event=on_event))
        except MregError as exc:  # a broken cursor, an unset variable, the remote refusing: this outlet only
            runs.append(OutletRun(o.name, failed=exc.message + (f": {exc.hint}" if exc.hint else "")))
        except (
            RecursionError,
            ValueError,
            OSError,
        ) as exc:  # hostile refs or a system error: this outlet only
            runs.append(OutletRun(o.name, failed=f"{type(exc).__name__}: {str(exc)[:200]}"))
    return runs


def notify_quietly(ctx: Context) -> None:
    """After `register` and `apply`: deliver when outlets are configured; a failure is a warning,
    never a failed registration."""
    if ctx.offline or not (ctx.config.raw.get("notify") or {}).get("outlets"):
        return
    try:
        runs = notify(ctx)
    except MregError as exc:
        ctx.notify(f"notify: {exc.message}")
        return
    except Exception as exc:
        ctx.notify(f"notify failed ({type(exc).__name__}); the write itself succeeded: 'mreg notify' retries")
        return
    for r in runs:
        if r.failed:
            ctx.notify(f"notify: outlet {r.outlet} stopped: {r.failed}; 'mreg notify' retries from there")
