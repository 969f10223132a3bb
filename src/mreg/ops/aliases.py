"""promote, rollback, demote (SPEC §6, §7): each move is a new annotated tag, never a moved one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mreg import aliases as alias_tags
from mreg.branches import backoff
from mreg.errors import ConflictError, NotFoundError, UsageError
from mreg.layout import REGISTRY_BRANCH, tag_ref
from mreg.refs import Ref, check_alias, parse_ref, parse_version

if TYPE_CHECKING:
    from mreg.registry import Registry

MAX_TAG_ATTEMPTS = 40


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    event: str
    version: int | None
    previous: int | None
    tag: str | None
    review: dict[str, Any] | None = None  # set when the move became a review request instead of a tag

    @property
    def ref(self) -> str:
        return f"{self.model}@v{self.version}" if self.version else f"{self.model}@{self.alias}"


def parse_alias_target(text: str) -> tuple[str, str]:
    r = parse_ref(text)
    if r.alias is None:
        raise UsageError(f"{text!r} does not name an alias", hint="write MODEL@ALIAS, e.g. fraud@production")
    return r.model, check_alias(r.alias)


def _move(
    reg: Registry,
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
    reg.require_initialised()
    protected = alias in reg.config.protected_aliases
    if protected and review_allowed and not no_review:
        if not reg.branches.online:
            raise UsageError(
                f"alias {alias!r} is protected and this registry has no remote to review the move",
                hint="pass --no-review to move it directly (the tag records that nobody reviewed it)",
            )
        from mreg.ops.review import request_review

        return request_review(reg, model, alias, event, version, reason=reason)
    if protected and no_review:  # the audit record must say nobody reviewed it, whatever the reason given
        reason = f"{reason} (unreviewed: {unreviewed_because})" if reason else f"unreviewed ({unreviewed_because})"
    move = write_tag(reg, model, alias, event, version, reason=reason, request=request, sign=sign)
    assert move is not None
    return move


def write_tag(
    reg: Registry,
    model: str,
    alias: str,
    event: str,
    version: int | None,
    *,
    reason: str | None,
    request: str | None,
    sign: bool = False,
    unless_current: bool = False,
) -> AliasMove | None:
    """Create and push the next tag of an alias; a seq somebody else took is retried with the next.

    `unless_current` (used by `apply`) returns None instead when the alias already says `version`:
    two overlapping runs then create one tag, not two.
    """
    reg.branches.ensure_pushed(REGISTRY_BRANCH)
    for attempt in range(MAX_TAG_ATTEMPTS):
        if attempt:
            backoff(attempt)  # the seq was taken: let the winner's push finish before fetching again
        reg.branches.fetch(force=True)
        events = reg.alias_events(model, alias)
        cur = alias_tags.current(events, alias)
        previous = cur.version if cur else None
        if unless_current and previous == version:
            return None
        if event == "demote" and (cur is None or cur.version is None):
            raise NotFoundError(f"alias {alias!r} of {model!r} is not set")
        tip = reg.registry_commit()
        digest = None
        if version is not None:
            reg.require_manifest_exists(model, version, tip)
            digest = reg.load_manifest(model, version, tip)["digest"]
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
        }
        name = tag_ref(model, alias, seq).removeprefix("refs/tags/")
        if reg.branches.create_tag(name, tip, alias_tags.format_record(record), sign=sign):
            return AliasMove(model, alias, event, version, previous, name)
    raise ConflictError(f"could not create a tag for {model}@{alias} after {MAX_TAG_ATTEMPTS} attempts")


def promote(reg: Registry, ref: str, to: str, *, reason: str | None = None, sign: bool = False, no_review: bool = False, at: datetime | None = None) -> AliasMove:
    alias = check_alias(to)
    v = reg.resolve(parse_ref(ref), at)
    return _move(reg, v.model, alias, "promote", v.version, reason=reason, sign=sign, no_review=no_review)


def rollback(
    reg: Registry,
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
    reg.require_initialised()
    reg.sync()
    events = reg.alias_events(model, alias)
    cur = alias_tags.current(events, alias)
    if cur is None:
        reg._raise_unknown_model(model, reg.registry_commit())
        raise NotFoundError(f"model {model!r} has no alias {alias!r} to roll back")
    if to is not None:
        try:
            number = parse_version(to)
        except UsageError:
            raise UsageError(f"--to {to!r}: not a version", hint="write vN or N, N ≥ 1 (an alias goes in MODEL@ALIAS)") from None
        version = reg.resolve(Ref(model, version=number)).version
    elif at is not None:
        then = alias_tags.current(events, alias, at=int(at.timestamp()))
        if then is None or then.version is None:
            raise NotFoundError(f"alias {alias!r} of {model!r} named no version at {at.isoformat()}")
        version = then.version
    else:
        version = _previous_version(events, cur)
    if version == cur.version:
        raise UsageError(f"{model}@{alias} is already v{version}")
    direct = reg.config.direct_rollback and not no_review
    return _move(reg, model, alias, "rollback", version, reason=reason, sign=sign, no_review=no_review or direct,
                 unreviewed_because="direct_rollback: true" if direct else "--no-review")


def _previous_version(events: list[alias_tags.AliasEvent], cur: alias_tags.AliasEvent) -> int:
    """The version the alias held before its current one (skipping demotions and repeats)."""
    for e in sorted(events, key=lambda e: e.seq, reverse=True):
        if e.seq < cur.seq and e.version is not None and e.version != cur.version:
            return e.version
    raise NotFoundError(f"{cur.model}@{cur.alias} has no earlier version to roll back to")


def demote(reg: Registry, target: str, *, reason: str | None = None, sign: bool = False, no_review: bool = False) -> AliasMove:
    model, alias = parse_alias_target(target)
    reg.require_initialised()
    reg._raise_unknown_model(model, reg.registry_commit())
    return _move(reg, model, alias, "demote", None, reason=reason, sign=sign, no_review=no_review)
