"""`mreg gc --retention` and `mreg du` (issue 20): bound the store by `mreg.yaml: retention`.

The policy lives in `mreg.yaml` on the governed branch, read through `Context.config` (the reviewed
config every command uses), so loosening or tightening it is a reviewed change. What is kept:

* every version the newest tag of any alias points at, and every version pinned on the governed
  branch (merged, maybe not applied yet) — always, whatever the policy says;
* every version an alias pointed at within `keep_days`, and with `keep_aliased` (default true) every
  version any alias ever pointed at;
* the newest `keep_last` versions of each model and those registered within `keep_days`, whatever
  their lifecycle records say (an archive or a purge record is anyone's word and never takes a
  version out of this set); with `keep_archived_bytes: true`, every archived version as well.

A purged version loses only the objects no kept version names (objects are content-addressed and
whole: a fine-tuned version never depends on its `parent`'s bytes, and any object it shares with
its parent stays because the kept version names it). The purge is recorded before a byte goes: one
commit of `purging` records (what will be deleted), then the deletes (in batches of 5,000, the registry tip read
again before each, never deleting an object a version registered meanwhile names; S3
`DeleteObjects`, 1,000 keys a request), then one commit of `purged` records (bytes freed). A run killed in between
leaves `purging` records; the next run completes the purge of those the policy still purges (a
`purging` record of a version the policy keeps is ignored).

A dry run computes the same plan and stops before the first record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mreg.errors import MregError, NotFoundError, UsageError
from mreg.layout import ALIASES_BRANCH, CONFIG_PATH, REGISTRY_BRANCH
from mreg.lifecycle import PURGED, PURGING
from mreg.manifest import LIFECYCLE_SCHEMA
from mreg.results import DuReport, DuRow, RetentionReport, VersionLifecycle

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.manifest import Manifest

DAY = 86400
BATCH = 5000  # objects deleted between two reads of the registry tip
REASON = "retention"


@dataclass
class Plan:
    now: int
    kept: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    purge: list[tuple[str, int]] = field(default_factory=list)  # versions whose bytes go, oldest first
    resume: list[tuple[str, int]] = field(default_factory=list)  # of those, the ones already `purging`
    manifests: dict[tuple[str, int], Manifest] = field(default_factory=dict)
    states: dict[tuple[str, int], VersionLifecycle] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)  # digest -> size: what the store loses
    owner: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # digest -> the purged version counted for it
    protected: set[str] = field(default_factory=set)


def policy_of(ctx: Context) -> dict[str, Any] | None:
    raw = ctx.config.raw.get("retention")
    return dict(raw) if isinstance(raw, dict) else None


def objects_of(m: Manifest) -> dict[str, int | None]:
    """digest -> size (None when the manifest does not say) of every object a manifest names."""
    out: dict[str, int | None] = {a["digest"]: a["size"] for a in m["artifacts"]}
    env = m["environment"]
    out.setdefault(env["packages"], None)
    if "lockfile" in env:
        out.setdefault(env["lockfile"]["digest"], None)
    return out


def _created(m: Manifest) -> float:
    try:
        return (
            datetime.strptime(str(m["created_at"]), "%Y-%m-%dT%H:%M:%SZ")
            .replace(tzinfo=timezone.utc)
            .timestamp()
        )
    except ValueError:
        return 0.0


def plan(ctx: Context, policy: dict[str, Any], *, now: int | None = None) -> Plan:
    """Which versions keep their bytes (and why), which lose them, and which objects go."""
    from mreg.git import tags as alias_tags
    from mreg.ops import lifecycle

    ctx.sync()
    tip = ctx.registry_commit()
    out = Plan(now=now if now is not None else ctx.git.identity()[1])
    pinned = _pinned(ctx)
    events = alias_tags.read_events(ctx.git, None)
    for model in ctx.models(tip):
        numbers = ctx.versions(model, tip)
        manifests = ctx.load_manifests(model, numbers, tip)
        states = lifecycle.read(ctx, model, commit=tip)
        kept = kept_by_policy(policy, out.now, model, numbers, manifests, states, events, pinned)
        out.kept[model] = kept
        for n in sorted(manifests):
            _place(out, model, n, manifests[n], states.get(n), kept)
    listed = {o.digest: o.size for o in ctx.store.list_objects()}
    for key in out.purge:
        for digest in objects_of(out.manifests[key]):
            if digest not in out.protected and digest in listed and digest not in out.objects:
                out.objects[digest] = listed[digest]
                out.owner[digest] = key
    return out


def _aliased(policy: dict[str, Any], now: int, events: list[Any], why: dict[int, list[str]]) -> None:
    """The newest tag of every alias (backed or not: never take bytes a tag names), and the
    versions aliases pointed at before: all of them with keep_aliased, else within keep_days."""
    days = policy.get("keep_days")
    cutoff = now - int(days) * DAY if days is not None else None
    keep_aliased = bool(policy.get("keep_aliased", True))
    by_alias: dict[str, list[Any]] = {}
    for e in events:
        by_alias.setdefault(e.alias, []).append(e)
    for alias, es in by_alias.items():
        es.sort(key=lambda e: e.seq)
        for i, e in enumerate(es):
            if e.version is None:
                continue
            if i == len(es) - 1:
                why.setdefault(e.version, []).append(f"{alias} points at it")
            elif keep_aliased:
                why.setdefault(e.version, []).append(f"{alias} pointed at it")
            elif cutoff is not None and es[i + 1].timestamp >= cutoff:
                why.setdefault(e.version, []).append(f"{alias} pointed at it within {days} days")


def _pinned(ctx: Context) -> dict[Any, Any]:
    from mreg.layout import ALIASES_REF
    from mreg.policy import desired_aliases, read_policies

    governed = ctx.git.rev_parse(ALIASES_REF)
    return dict(desired_aliases(read_policies(ctx.git, governed))) if governed else {}


def kept_by_policy(
    policy: dict[str, Any],
    now: int,
    model: str,
    numbers: list[int],
    manifests: dict[int, Manifest],
    states: dict[int, VersionLifecycle],
    events: list[Any],
    pinned: dict[Any, Any],
) -> dict[int, list[str]]:
    """The versions of `model` the reviewed policy keeps, each with why: from the policy, the
    manifests, alias tags and pins only. No lifecycle record takes a version out of this set (SPEC
    §1: anyone may add one); an archive only ever *adds* a version, with `keep_archived_bytes`."""
    why: dict[int, list[str]] = {}
    _aliased(policy, now, [e for e in events if e.model == model], why)
    for (m, alias), pin in pinned.items():
        if m == model and pin.version is not None:
            why.setdefault(pin.version, []).append(f"pinned for {alias} on {ALIASES_BRANCH}")
    _recent(policy, now, manifests, states, why)
    for n in numbers:
        if n not in manifests:  # cannot be read: nothing of it is touched
            why.setdefault(n, []).append("its manifest cannot be read")
    return {n: w for n, w in why.items() if n in numbers}


def _recent(
    policy: dict[str, Any],
    now: int,
    manifests: dict[int, Manifest],
    states: dict[int, VersionLifecycle],
    why: dict[int, list[str]],
) -> None:
    """keep_last and keep_days over every version, whatever its records say (a purge record or an
    archive is anyone's word: neither takes a version out); with keep_archived_bytes, every archived
    version too."""
    days, keep_last = policy.get("keep_days"), policy.get("keep_last")
    newest = sorted(manifests, reverse=True)
    if keep_last is not None:
        for n in newest[: int(keep_last)]:
            why.setdefault(n, []).append(f"one of the newest {keep_last}")
    if days is not None:
        for n in newest:
            if _created(manifests[n]) >= now - int(days) * DAY:
                why.setdefault(n, []).append(f"registered within {days} days")
    if policy.get("keep_archived_bytes", False):
        for n in newest:
            st = states.get(n)
            if st is not None and st.archived:
                why.setdefault(n, []).append("archived, and keep_archived_bytes is true")


def _place(
    out: Plan, model: str, n: int, m: Manifest, st: VersionLifecycle | None, kept: dict[int, list[str]]
) -> None:
    out.manifests[(model, n)] = m
    if st is not None:
        out.states[(model, n)] = st
    if n in kept:
        out.protected.update(objects_of(m))
    elif st is None or st.purge != PURGED:
        out.purge.append((model, n))
        if st is not None and st.purge == PURGING:
            out.resume.append((model, n))


def gc_retention(ctx: Context, *, dry_run: bool = False) -> RetentionReport:
    """Plan, record `purging`, delete, record `purged` (see the module's docstring)."""
    policy = policy_of(ctx)
    if policy is None:
        raise UsageError(
            f"no retention policy: {ALIASES_BRANCH}:{CONFIG_PATH} has no 'retention'",
            hint="propose one through review, e.g. 'retention: {keep_last: 10, keep_days: 90}'",
        )
    p = plan(ctx, policy)
    report = _report(p, dry_run=dry_run)
    if dry_run or not p.purge:
        return report
    fresh = [k for k in p.purge if k not in p.resume]
    if fresh:
        _record(ctx, p, fresh, PURGING)
    # a registration since the plan may name an object that is about to go: keep it. The tip is
    # read again before each batch, so the window is one batch's deletes (see `_late`).
    doomed = sorted(p.objects)
    deleted: list[str] = []
    for start in range(0, len(doomed), BATCH):
        p.protected |= _names_since(ctx, p)[1]
        batch = [d for d in doomed[start : start + BATCH] if d not in p.protected]
        if batch:
            ctx.store.delete_many(batch)
            deleted.extend(batch)
    _late(ctx, p, set(deleted))
    _record(ctx, p, p.purge, PURGED, deleted=set(deleted))
    return report


def _names_since(ctx: Context, p: Plan) -> tuple[dict[str, set[str]], set[str]]:
    """What the versions registered since the plan name: per version (`model@vN`), and in all."""
    ctx.branches.fetch(force=True)
    tip = ctx.registry_commit()
    per: dict[str, set[str]] = {}
    for model in ctx.models(tip):
        new = [n for n in ctx.versions(model, tip) if (model, n) not in p.manifests]
        for n, m in ctx.load_manifests(model, new, tip).items():
            per[f"{model}@v{n}"] = set(objects_of(m))
    return per, set().union(*per.values()) if per else set()


def _late(ctx: Context, p: Plan, deleted: set[str]) -> None:
    """The remaining window: a registration landing while a batch's deletes run, naming an object of
    that batch it found in the store (and so did not upload). Its bytes are gone; say so loudly,
    naming the versions, so their files are registered again (`mreg verify` reports them too)."""
    per, _ = _names_since(ctx, p)
    for version, names in sorted(per.items()):
        lost = names & deleted
        if lost:
            ctx.notify(
                f"{version} was registered while gc --retention deleted objects, and names {len(lost)} of them "
                f"(e.g. {min(lost)}): its bytes are missing; register its files again ('mreg verify' lists it)"
            )


def _record(
    ctx: Context, p: Plan, versions: list[tuple[str, int]], event: str, deleted: set[str] | None = None
) -> None:
    from mreg.git.branches import Change
    from mreg.ops.lifecycle import next_records

    ident, _ = ctx.git.identity()
    at = datetime.fromtimestamp(p.now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    owned: dict[tuple[str, int], list[str]] = {}
    for d, owner in p.owner.items():
        if deleted is None or d in deleted:
            owned.setdefault(owner, []).append(d)
    records = []
    for key in versions:
        m = p.manifests[key]
        objects = sorted(owned.get(key, ()))
        rec: dict[str, Any] = {
            "schema": LIFECYCLE_SCHEMA,
            "model": key[0],
            "version": key[1],
            "version_digest": m["digest"],
            "event": event,
            "reason": REASON,
            "created_at": at,
            "created_by": ident,
            "objects": objects,
        }
        if event == PURGED:
            rec["bytes_freed"] = sum(p.objects[d] for d in objects)
        records.append(rec)
    label = f"{event} the bytes of {len(versions)} version(s) by retention"

    def build(base: str | None) -> Change:
        if base is None:
            raise UsageError("the registry has no registry branch")
        return Change(*next_records(ctx, base, records, label))

    ctx.branches.commit(REGISTRY_BRANCH, build)


def _report(p: Plan, *, dry_run: bool) -> RetentionReport:
    return RetentionReport(
        kept={m: {n: tuple(w) for n, w in vs.items()} for m, vs in p.kept.items()},
        purged=tuple(p.purge),
        objects=tuple({"digest": d, "size": s} for d, s in sorted(p.objects.items())),
        resumed=tuple(p.resume),
        dry_run=dry_run,
    )


# -- reading: is a purge record the explanation for missing bytes? --------------------------------
def refuse_purged(ctx: Context, model: str, version: int) -> None:
    """`show`, `pull`: exit 3 with when and why, when a trusted purge record explains missing bytes."""
    problem = purge_problem(ctx, model, version)
    if problem is not None:
        raise problem


def purge_problem(ctx: Context, model: str, version: int) -> NotFoundError | None:
    """NotFoundError (exit 3, "bytes purged on … by retention") when a purge record explains this
    version's missing bytes; None when there is no record, when the bytes are all there (the bytes
    are looked at first: a record never hides bytes that are present), or when the record cannot be
    trusted. Anyone who may register can add one, so it explains missing bytes only if the reviewed
    policy would purge the version now (`kept_by_policy`: retention configured, not kept by an
    alias, a pin, keep_last or keep_days). The record's own `created_at` is never evidence. An
    ignored record is named in a warning."""
    from mreg.ops import lifecycle

    st = lifecycle.read(ctx, model).get(version)
    if st is None or st.purge is None:
        return None
    ev = st.purge_event
    assert ev is not None
    try:
        manifest = ctx.load_manifest(model, version, ctx.registry_commit())
    except MregError:
        return None
    if all(ctx.store.exists(d) for d in objects_of(manifest)):
        ctx.notify(
            f"{ev.path} says the bytes of {model}@v{version} were purged, but they are all there: record ignored"
        )
        return None
    why = _distrust(ctx, model, version)
    if why is not None:
        ctx.notify(f"{ev.path} says the bytes of {model}@v{version} were purged, but {why}: record ignored")
        return None
    return NotFoundError(
        f"{model}@v{version}: bytes purged on {ev.at} by retention ({ev.path}"
        + (f", commit {ev.commit[:12]}" if ev.commit else "")
        + ")",
        hint="its manifest, evaluations and history remain ('mreg log', 'mreg resolve --json'); its files are gone",
    )


def refuse_if_archived(ctx: Context, model: str, version: int, *, doing: str) -> None:
    """Exit 1 naming the record when the version is archived, or its bytes were purged."""
    from mreg.errors import CheckFailedError
    from mreg.ops.lifecycle import describe, read

    st = read(ctx, model).get(version)
    if st is None:
        return
    ev = st.archive_event
    if st.archived and ev is not None:
        raise CheckFailedError(
            f"{model}@v{version} is archived ({describe(ev)}); {doing} refused",
            hint=f"if it may be used again: mreg unarchive {model}@v{version} --reason TEXT",
        )
    if st.purge is not None:
        problem = purge_problem(ctx, model, version)  # looks at the bytes first, then at the policy
        if problem is not None:
            raise CheckFailedError(
                f"{problem.message}; {doing} refused",
                hint="a purged version cannot be used again: register its files as a new version",
            )


def trusted_purges(ctx: Context) -> set[tuple[str, int]]:
    """Every version whose purge record can be trusted (the reviewed policy would purge it now), for
    `verify`: one pass a model instead of one a version."""
    from mreg.git import tags as alias_tags
    from mreg.ops import lifecycle

    out: set[tuple[str, int]] = set()
    policy = policy_of(ctx)
    if policy is None:
        return out
    tip = ctx.registry_commit()
    now = ctx.git.identity()[1]
    events = alias_tags.read_events(ctx.git, None)
    pinned = _pinned(ctx)
    for model in ctx.models(tip):
        states = lifecycle.read(ctx, model, commit=tip)
        if not any(st.purge_event is not None for st in states.values()):
            continue
        numbers = ctx.versions(model, tip)
        manifests = ctx.load_manifests(model, numbers, tip)
        kept = kept_by_policy(policy, now, model, numbers, manifests, states, events, pinned)
        for version, st in states.items():
            if st.purge_event is not None and version not in kept:
                out.add((model, version))
    return out


def _distrust(ctx: Context, model: str, version: int) -> str | None:
    """Why a purge record of `version` does not explain missing bytes, or None when the reviewed
    policy would purge the version now."""
    from mreg.git import tags as alias_tags
    from mreg.ops import lifecycle

    policy = policy_of(ctx)
    if policy is None:
        return f"{ALIASES_BRANCH}:{CONFIG_PATH} has no retention policy"
    try:
        tip = ctx.registry_commit()
        numbers = ctx.versions(model, tip)
        manifests = ctx.load_manifests(model, numbers, tip)
    except MregError:
        return "it cannot be checked against the policy"
    states = lifecycle.read(ctx, model, commit=tip, warn=lambda _: None)
    kept = kept_by_policy(
        policy,
        ctx.git.identity()[1],
        model,
        numbers,
        manifests,
        states,
        alias_tags.read_events(ctx.git, model),
        _pinned(ctx),
    )
    if version in kept:
        return f"the reviewed retention policy keeps it ({'; '.join(kept[version])})"
    return None


# -- du ---------------------------------------------------------------------------------------------
def du(ctx: Context, model: str | None = None) -> DuReport:
    """Logical bytes (what each version names) against stored bytes (each object once, counted for
    the oldest version naming it, and only if the store holds it), and what retention would free."""
    tip = ctx.registry_commit()
    models = ctx.models(tip)
    if model is not None and model not in models:
        ctx.raise_unknown_model(model, tip)
    listed = {o.digest: o.size for o in ctx.store.list_objects()}
    policy = policy_of(ctx)
    planned = plan(ctx, policy) if policy is not None else None
    doomed = set(planned.purge) if planned else set()
    from mreg.ops import lifecycle

    rows = []
    counted: set[str] = set()
    for name in models:
        numbers = ctx.versions(name, tip)
        manifests = ctx.load_manifests(name, numbers, tip)
        states = lifecycle.read(ctx, name, commit=tip)
        for n in sorted(manifests):
            objs = objects_of(manifests[n])
            logical = sum(s if s is not None else listed.get(d, 0) for d, s in objs.items())
            stored = 0
            for d in objs:
                if d in listed and d not in counted:
                    counted.add(d)
                    stored += listed[d]
            if model is not None and name != model:
                continue
            st = states.get(n)
            rows.append(DuRow(name, n, logical, stored, st.state if st else "active", (name, n) in doomed))
    reclaimable = (
        sum(s for d, s in planned.objects.items() if model is None or planned.owner[d][0] == model)
        if planned
        else 0
    )
    return DuReport(tuple(rows), policy is not None, reclaimable)
