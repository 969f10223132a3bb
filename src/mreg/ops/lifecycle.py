"""`mreg archive` / `mreg unarchive` (issue 20): a version's lifecycle as append-only records.

Records are written like evaluations: built on the registry branch's tip, published with
compare-and-swap, numbered at commit time. Readers take only records that validate, sit at the path
of the version they name and are bound to its digest; anything else is left out with a warning
(`mreg check` names it).

Trust (SPEC §1): anyone who may register may add a record, so neither kind is governed by review.
Archiving can only *refuse* moves (fail safe); an unarchive lifts that refusal, but every record
names the git author of the commit that added it (`log`, `list`, `gate`), and a protected alias
still moves only through a pin the reviewers approved. The purge records that retention writes are
read with suspicion: `ops.retention.purge_problem` decides whether one explains missing bytes, and
`ops.retention.refuse_if_archived` is what moves check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mreg.errors import IntegrityError, MregError, UsageError
from mreg.git.branches import Change
from mreg.git.history import tidy_ident
from mreg.layout import REGISTRY_BRANCH, lifecycle_dir, lifecycle_of_path, lifecycle_path, manifest_path
from mreg.lifecycle import ARCHIVE, PURGED, PURGING, UNARCHIVE, dump_lifecycle, fold, parse_lifecycle
from mreg.manifest import LIFECYCLE_SCHEMA, size_problem
from mreg.refs import parse_ref
from mreg.results import LifecycleEvent, VersionLifecycle

if TYPE_CHECKING:
    from mreg.context import Context

MAX_WARNINGS = 3
# Records read, at most (SPEC §1: anyone may add them, so 10,000 junk records must not make every
# command slow): the first of each version by number, and of a model. Past either, one warning and
# the rest are ignored; `mreg check` names them.
MAX_RECORDS_PER_VERSION = 100
MAX_RECORDS_PER_MODEL = 5000


def read(
    ctx: Context,
    model: str,
    *,
    at: datetime | None = None,
    commit: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[int, VersionLifecycle]:
    """The lifecycle of every version of `model` that has records (one `ls-tree`, one `cat-file`,
    one `git log` for who added them); a version absent from the result is active."""
    from mreg.cache.valid import MEMO
    from mreg.git.history import added_files

    commit = commit or ctx.registry_commit(at)
    files = ctx.git.blob_ids(commit, lifecycle_dir(model))
    specs: list[tuple[str, int, int]] = []
    for path in files:
        parsed = lifecycle_of_path(path)
        if parsed is not None and parsed[0] == model:
            specs.append((path, parsed[1], parsed[2]))
    if not specs:
        return {}
    specs, over = _bounded(specs)
    versions = sorted({v for _, v, _ in specs})
    try:
        digests = {v: m["digest"] for v, m in ctx.load_manifests(model, versions, commit).items()}
    except MregError:
        digests = {}
        for v in versions:
            try:
                digests[v] = ctx.load_manifest(model, v, commit)["digest"]
            except MregError:
                continue
    added = {path: (sha, who) for sha, _, who, path in added_files(ctx.git, commit, lifecycle_dir(model))}
    blobs = ctx.git.read_blobs([f"{commit}:{p}" for p, _, _ in specs])
    by_version: dict[int, list[LifecycleEvent]] = {}
    problems: list[str] = []
    for (path, version, number), blob in zip(specs, blobs, strict=True):
        where = f"{REGISTRY_BRANCH}:{path}"
        if version not in digests:
            problems.append(f"{where}: {model}@v{version} is not registered")
            continue
        if blob is None:
            problems.append(f"{where}: cannot be read")
            continue
        try:
            rec = parse_lifecycle(
                blob, where=where, model=model, version=version, version_digest=digests[version], memo=MEMO
            )
        except MregError as exc:
            problems.append(exc.message)
            continue
        sha, who = added.get(path, (None, None))
        by_version.setdefault(version, []).append(_event(rec, number, path, sha, who))
    say = warn or ctx.notify
    if over:
        say(
            f"{sum(over.values())} lifecycle record(s) of {model} ignored: more than "
            f"{MAX_RECORDS_PER_VERSION} a version or {MAX_RECORDS_PER_MODEL} a model "
            f"({', '.join(f'v{v}: {n}' for v, n in sorted(over.items())[:5])}"
            + (", …" if len(over) > 5 else "")
            + ")"
        )
    for problem in problems[:MAX_WARNINGS]:
        say(f"{problem}: ignored")
    if len(problems) > MAX_WARNINGS:
        say(
            f"{len(problems) - MAX_WARNINGS} more invalid lifecycle record(s) ignored; 'mreg check' lists them"
        )
    out = {}
    for version, events in by_version.items():
        events.sort(key=lambda e: e.number)
        out[version] = state_of(model, version, events)
    _unless_aliased(ctx, model, out, say)
    return out


def _bounded(specs: list[tuple[str, int, int]]) -> tuple[list[tuple[str, int, int]], dict[int, int]]:
    """The records read (the first MAX_RECORDS_PER_VERSION of each version by number, the first
    MAX_RECORDS_PER_MODEL of the model by version) and, per version, how many are left out."""
    specs = sorted(specs, key=lambda s: (s[1], s[2]))
    kept: list[tuple[str, int, int]] = []
    over: dict[int, int] = {}
    count: dict[int, int] = {}
    for spec in specs:
        version = spec[1]
        count[version] = count.get(version, 0) + 1
        if count[version] > MAX_RECORDS_PER_VERSION or len(kept) >= MAX_RECORDS_PER_MODEL:
            over[version] = over.get(version, 0) + 1
        else:
            kept.append(spec)
    return kept, over


def _unless_aliased(
    ctx: Context, model: str, states: dict[int, VersionLifecycle], say: Callable[[str], None]
) -> None:
    """An archive in force on a version an alias points at is ignored (with a warning; `check`
    names it): `archive` refuses an aliased version and `promote`/`apply`/`rollback` refuse an
    archived one, so such a record was added by plain git while the alias pointed at the version."""
    archived = [v for v, st in states.items() if st.archived]
    if not archived:
        return
    try:
        held = ctx.alias_values(model)
    except MregError:
        return
    for version in archived:
        aliases = sorted(a for a, v in held.items() if v == version)
        if not aliases:
            continue
        st = states[version]
        ev = st.archive_event
        say(
            f"{REGISTRY_BRANCH}:{ev.path if ev else lifecycle_dir(model)}: archive of {model}@v{version} ignored: "
            f"{', '.join(aliases)} point{'s' if len(aliases) == 1 else ''} at it (an aliased version cannot be "
            "archived; this record was added by plain git)"
        )
        states[version] = VersionLifecycle(model, version, False, st.purge, st.events)


def state_of(model: str, version: int, events: Sequence[LifecycleEvent]) -> VersionLifecycle:
    folded = fold([e.event for e in events])
    purge = None if folded.purge is None else (PURGED if folded.purged else PURGING)
    return VersionLifecycle(model, version, folded.archived is not None, purge, tuple(events))


def _event(
    rec: Mapping[str, Any], number: int, path: str, commit: str | None, author: str | None
) -> LifecycleEvent:
    return LifecycleEvent(
        model=rec["model"],
        version=rec["version"],
        number=number,
        event=rec["event"],
        reason=rec["reason"],
        at=rec["created_at"],
        by=rec["created_by"],
        path=path,
        commit=commit,
        author=author,
        objects=len(rec.get("objects") or ()),
        bytes_freed=rec.get("bytes_freed"),
    )


def lifecycle(ctx: Context, model: str, *, at: datetime | None = None) -> dict[int, VersionLifecycle]:
    """Every version of `model` and where it stands (active ones included): what `report` shows."""
    commit = ctx.registry_commit(at)
    versions = ctx.versions(model, commit)
    if not versions:
        ctx.raise_unknown_model(model, commit, at=at)
    found = read(ctx, model, commit=commit)
    return {v: found.get(v) or VersionLifecycle(model, v, False, None) for v in versions}


def tidy(who: str) -> str:
    return " ".join(tidy_ident(who).split())


def claimed_by(e: LifecycleEvent) -> str:
    """Who a record is by, as far as anyone can tell: the git author of the commit that added it, a
    claim (git does not verify it, and registry commits are not signed); when the record's own
    `created_by` says someone else, both are shown, so a record whose two claims disagree stands out."""
    if e.author is None:
        return e.by
    if tidy(e.by) != tidy(e.author):
        return f"{e.author} (git author, unverified; the record says {e.by})"
    return e.author


def describe(e: LifecycleEvent) -> str:
    """`archive record models/…/1.yaml by Ann <ann@x> on 2026-…: reason` (the commit's claimed author)."""
    return f"{e.event} record {e.path} by {claimed_by(e)} on {e.at}: {e.reason}"


class _Already(Exception):
    def __init__(self, event: LifecycleEvent | None) -> None:
        super().__init__("already")
        self.event = event


def change(ctx: Context, ref: str, *, archive: bool, reason: str) -> tuple[VersionLifecycle, bool]:
    """Archive (or unarchive) a version: (its lifecycle afterwards, whether a record was written).
    Archiving what is archived already, or unarchiving what is not, writes nothing."""
    reason = _reason(reason)
    ctx.require_initialised()
    version = ctx.resolve(parse_ref(ref), with_aliases=False)
    model, number = version.model, version.version
    if archive:
        held = sorted(a for a, v in ctx.alias_values(model).items() if v == number)
        if held:
            first = held[0]
            raise UsageError(
                f"{model}@v{number} is what {', '.join(held)} point{'s' if len(held) == 1 else ''} at: "
                "archiving it is refused until the alias moves",
                hint=f"move it first: 'mreg promote {model}@vN --to {first}', 'mreg rollback {model}@{first}' "
                f"or 'mreg demote {model}@{first}', then archive",
            )
    event = ARCHIVE if archive else UNARCHIVE
    ident, stamp = ctx.git.identity()
    record: dict[str, Any] = {
        "schema": LIFECYCLE_SCHEMA,
        "model": model,
        "version": number,
        "version_digest": version.digest,
        "event": event,
        "reason": reason,
        "created_at": datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_by": ident,
    }

    def build(base: str | None) -> Change:
        if base is None:
            raise UsageError("the registry has no registry branch")
        if ctx.git.read_blob(f"{base}:{manifest_path(model, number)}") is None:
            raise IntegrityError(f"{model}@v{number} is not on {REGISTRY_BRANCH} any more")
        now = read(ctx, model, commit=base, warn=lambda _: None).get(number)
        if (now is not None and now.archived) == archive:
            raise _Already(now.archive_event if now else None)
        return Change(*next_record(ctx, base, record, f"{event} {model} v{number}"))

    try:
        ctx.branches.commit(REGISTRY_BRANCH, build)
        wrote = True
    except _Already:
        if not archive:
            raise UsageError(f"{model}@v{number} is not archived") from None
        wrote = False
    after = read(ctx, model).get(number) or VersionLifecycle(model, number, False, None)
    return after, wrote


def next_record(
    ctx: Context, base: str, record: Mapping[str, Any], message: str
) -> tuple[dict[str, bytes], str]:
    """The files of a commit adding `record` as the next lifecycle record of its version at `base`."""
    return next_records(ctx, base, [record], message)


def next_records(
    ctx: Context, base: str, records: Sequence[Mapping[str, Any]], message: str
) -> tuple[dict[str, bytes], str]:
    """One commit's files adding each record as the next of its version (several versions at once):
    one `ls-tree` a model for the numbers taken, whatever the number of versions."""
    from mreg.cache.valid import MEMO
    from mreg.lifecycle import validate_lifecycle

    files: dict[str, bytes] = {}
    taken: dict[tuple[str, int], int] = {}
    listed: set[str] = set()
    for record in records:
        model, number = record["model"], record["version"]
        if model not in listed:
            listed.add(model)
            for path in ctx.git.blob_ids(base, lifecycle_dir(model)):
                parsed = lifecycle_of_path(path)
                if parsed is not None and parsed[0] == model:
                    key = (model, parsed[1])
                    taken[key] = max(taken.get(key, 0), parsed[2])
        key = (model, number)
        taken[key] = taken.get(key, 0) + 1
        path = lifecycle_path(model, number, taken[key])
        doc = validate_lifecycle(dict(record), where=f"{REGISTRY_BRANCH}:{path}", model=model, version=number)
        text = dump_lifecycle(doc)
        too_big = size_problem(text)
        if too_big:
            raise UsageError(f"the lifecycle record would be {too_big}")
        MEMO.remember(text, LIFECYCLE_SCHEMA, dict(doc))
        files[path] = text
    return files, message


def _reason(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise UsageError("--reason is required: say why (it is kept with the record)")
    if len(text) > 2000:
        raise UsageError(f"--reason: {len(text):,} characters; up to 2,000")
    if any(ord(c) < 32 and c not in "\t" for c in text):
        raise UsageError(
            "--reason: a control character (a line break, an escape); say it on one line of text"
        )
    return text


__all__ = ["PURGED", "PURGING", "change", "claimed_by", "describe", "lifecycle", "read"]
