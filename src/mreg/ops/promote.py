"""promote, rollback, demote (SPEC §6, §7): each move is a new annotated tag, never a moved one."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mreg.errors import ConflictError, IntegrityError, NotFoundError, UsageError
from mreg.git import tags as alias_tags
from mreg.git.branches import backoff
from mreg.layout import ALIASES_BRANCH, REGISTRY_BRANCH, tag_ref
from mreg.refs import Ref, check_alias, parse_ref, parse_version
from mreg.results import AliasMove

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.policy import Pin

MAX_TAG_ATTEMPTS = 40


def parse_alias_target(text: str) -> tuple[str, str]:
    r = parse_ref(text)
    if r.alias is None:
        raise UsageError(f"{text!r} does not name an alias", hint="write MODEL@ALIAS, e.g. fraud@production")
    return r.model, check_alias(r.alias)


def _move(
    ctx: Context,
    model: str,
    alias: str,
    event: str,
    version: int | None,
    *,
    reason: str | None,
    sign: bool,
    no_review: bool,
    request: str | None = None,
    review_allowed: bool = True,
    unreviewed_because: str = "--no-review",
) -> AliasMove:
    ctx.require_initialised()
    if version is not None:  # an archived (or purged) version is never promoted, rolled back to or applied
        from mreg.ops.retention import refuse_if_archived

        refuse_if_archived(ctx, model, version, doing=f"{event} to {alias}")
    protected = ctx.is_protected(alias)
    if protected and review_allowed and not no_review:
        if not ctx.branches.online:
            raise UsageError(
                f"alias {alias!r} is protected and this registry has no remote to review the move",
                hint="pass --no-review to move it directly (the pin and the tag record that nobody reviewed it)",
            )
        from mreg.ops.review import request_review

        return request_review(ctx, model, alias, event, version, reason=reason)
    governed = None
    if protected:  # the audit record must say nobody reviewed it, whatever the reason given
        has_remote = ctx.git.remote_url(ctx.remote_name) is not None
        if has_remote and unreviewed_because == "--no-review" and not ctx.config.allow_unreviewed:
            raise UsageError(
                f"alias {alias!r} is protected: in a registry with a remote, --no-review needs "
                f"'allow_unreviewed: true' in {ALIASES_BRANCH}:mreg.yaml",
                hint=f"run without --no-review to open a pull request on {ALIASES_BRANCH}",
            )
        reason = (
            f"{reason} (unreviewed: {unreviewed_because})" if reason else f"unreviewed ({unreviewed_because})"
        )
        governed = pin_directly(ctx, model, alias, event, version, reason=reason)
    move = write_tag(
        ctx, model, alias, event, version, reason=reason, request=request, sign=sign, governed=governed
    )
    assert move is not None
    return move


def pin_directly(
    ctx: Context, model: str, alias: str, event: str, version: int | None, *, reason: str
) -> str:
    """An unreviewed protected move still goes through the governed branch (SPEC §7): one commit
    pins the new value, so the tag that follows is backed and the branch says who did it and why."""
    from mreg.git.branches import Change
    from mreg.git.tags import subject
    from mreg.layout import ALIASES_BRANCH, policy_path
    from mreg.ops.review import pin_in_text
    from mreg.policy import Pin

    pin = (
        Pin(None)
        if version is None
        else Pin(version, ctx.load_manifest(model, version, ctx.registry_commit())["digest"])
    )

    def build(base: str | None) -> Change:
        old = ctx.git.read_blob(f"{base}:{policy_path(model)}") if base else None
        return Change(
            {policy_path(model): pin_in_text(old, alias, pin)},
            f"{subject(event, model, alias, version)}\n\nReason: {reason}",
        )

    commit, _ = ctx.branches.commit(ALIASES_BRANCH, build)
    return commit


def write_tag(
    ctx: Context,
    model: str,
    alias: str,
    event: str,
    version: int | None,
    *,
    reason: str | None,
    request: str | None,
    sign: bool = False,
    pin: Pin | None = None,
    governed: str | None = None,
    at: str | None = None,
    extra: dict[str, Any] | None = None,
) -> AliasMove | None:
    """Create and push the next tag of an alias, pointing at the version's registration commit; a
    seq somebody else took is retried with the next.

    With `pin` (used by `apply`) the manifest there must have the pinned digest (exit 5, no tag), and
    None is returned instead when the alias's newest tag already says exactly that pin: two
    overlapping runs create one tag, not two. An import gives the original time as `at` and its
    origin as `extra` record keys (SPEC §14).
    """
    ctx.branches.ensure_pushed(REGISTRY_BRANCH)
    for attempt in range(MAX_TAG_ATTEMPTS):
        if attempt:
            backoff(attempt)  # the seq was taken: let the winner's push finish before fetching again
        ctx.branches.fetch(force=True)
        events = ctx.alias_events(model, alias)
        cur = alias_tags.current(events, alias)
        previous = cur.version if cur else None
        if pin is not None and cur is not None and pin.matches(cur) and ctx.tag_problem(cur) is None:
            return None
        if event == "demote" and (cur is None or cur.version is None):
            raise NotFoundError(f"alias {alias!r} of {model!r} is not set")
        target = ctx.registry_commit()
        digest = None
        if version is not None:
            ctx.require_manifest_exists(model, version, target)
            if attempt == 0:  # archived meanwhile (or `apply`): no tag for it
                from mreg.ops.retention import refuse_if_archived

                refuse_if_archived(ctx, model, version, doing=f"{event} to {alias}")
            target = ctx.registration_commit(model, version)
            digest = ctx.load_manifest(model, version, target)["digest"]
            if pin is not None and pin.digest is not None and digest != pin.digest:
                raise IntegrityError(
                    f"{ALIASES_BRANCH} approves {model}@v{version} with digest {pin.digest}, but the registered "
                    f"manifest has {digest}; no tag created",
                    hint="a reviewed pin names the exact bytes: promote the version again to review what is registered",
                )
        seq = max((e.seq for e in events), default=0) + 1
        record = {
            "event": event,
            "model": model,
            "alias": alias,
            "version": version,
            "digest": digest,
            "previous": previous,
            "reason": reason or None,
            "request": request,
            "governed": governed,
            "at": at or _record_time(ctx),
        }
        name = tag_ref(model, alias, seq).removeprefix("refs/tags/")
        if ctx.branches.create_tag(name, target, alias_tags.format_record(record, extra), sign=sign):
            return AliasMove(model, alias, event, version, previous, name)
    raise ConflictError(f"could not create a tag for {model}@{alias} after {MAX_TAG_ATTEMPTS} attempts")


def _record_time(ctx: Context) -> str:
    """The record's `at`: the time git records for the tagger (so GIT_COMMITTER_DATE rules it, as it
    rules the tag), with this moment's microseconds to order moves made within one second."""
    import time

    _, stamp = ctx.git.identity()
    micro = int((time.time() % 1) * 1_000_000)
    return (
        datetime.fromtimestamp(stamp, timezone.utc)
        .replace(microsecond=micro)
        .strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )


def promote(
    ctx: Context,
    ref: str,
    to: str,
    *,
    reason: str | None = None,
    sign: bool = False,
    no_review: bool = False,
    at: datetime | None = None,
) -> AliasMove:
    alias = check_alias(to)
    v = ctx.resolve(parse_ref(ref), at)
    return _move(ctx, v.model, alias, "promote", v.version, reason=reason, sign=sign, no_review=no_review)


def rollback(
    ctx: Context,
    target: str,
    *,
    to: str | None = None,
    at: datetime | None = None,
    reason: str | None = None,
    sign: bool = False,
    no_review: bool = False,
) -> AliasMove:
    model, alias = parse_alias_target(target)
    if to is not None and at is not None:
        raise UsageError("rollback takes --to or --at, not both")
    ctx.require_initialised()
    ctx.sync()
    events = ctx.alias_events(model, alias)
    cur = alias_tags.current(events, alias)
    if cur is None:
        ctx.raise_unknown_model(model, ctx.registry_commit())
        raise NotFoundError(f"model {model!r} has no alias {alias!r} to roll back")
    if to is not None:
        try:
            number = parse_version(to)
        except UsageError:
            raise UsageError(
                f"--to {to!r}: not a version", hint="write vN or N, N ≥ 1 (an alias goes in MODEL@ALIAS)"
            ) from None
        version = ctx.resolve(Ref(model, version=number)).version
    elif at is not None:
        then = alias_tags.current(events, alias, at=int(at.timestamp()))
        if then is None or then.version is None:
            raise NotFoundError(f"alias {alias!r} of {model!r} named no version at {at.isoformat()}")
        version = then.version
    else:
        from mreg.ops.lifecycle import read as lifecycle
        from mreg.ops.retention import purge_problem

        unusable = {
            n
            for n, st in lifecycle(ctx, model).items()
            if st.archived or (st.purge is not None and purge_problem(ctx, model, n) is not None)
        }
        version = _previous_version(events, cur, skip=unusable)
    if version == cur.version:
        raise UsageError(f"{model}@{alias} is already v{version}")
    direct = ctx.config.direct_rollback and not no_review
    return _move(
        ctx,
        model,
        alias,
        "rollback",
        version,
        reason=reason,
        sign=sign,
        no_review=no_review or direct,
        unreviewed_because="direct_rollback: true" if direct else "--no-review",
    )


def _previous_version(
    events: list[alias_tags.AliasEvent],
    cur: alias_tags.AliasEvent,
    *,
    skip: set[int] | frozenset[int] = frozenset(),
) -> int:
    """Where a rollback goes (SPEC §7): back through the alias's history, skipping the versions it was
    rolled back from. The history is a stack: a promotion pushes, a rollback pops back to its target,
    so v3 → v4 → v5 then two rollbacks give v4, then v3 — never v5 again. Versions in `skip`
    (archived, or their bytes purged) are passed over."""
    stack: list[int | None] = []
    for e in sorted(events, key=lambda e: e.seq):
        if e.seq > cur.seq:
            break
        if e.event == "rollback" and e.version in stack:
            while stack and stack[-1] != e.version:
                stack.pop()
        elif not stack or stack[-1] != e.version:
            stack.append(e.version)
    for version in reversed(stack[:-1]):
        if version is not None and version != cur.version and version not in skip:
            return version
    skipped = sorted({v for v in stack[:-1] if v is not None and v != cur.version and v in skip})
    more = f" (skipped, archived or purged: {', '.join(f'v{n}' for n in skipped)})" if skipped else ""
    raise NotFoundError(f"{cur.model}@{cur.alias} has no earlier version to roll back to{more}")


def demote(
    ctx: Context, target: str, *, reason: str | None = None, sign: bool = False, no_review: bool = False
) -> AliasMove:
    model, alias = parse_alias_target(target)
    ctx.require_initialised()
    ctx.raise_unknown_model(model, ctx.registry_commit())
    return _move(ctx, model, alias, "demote", None, reason=reason, sign=sign, no_review=no_review)
