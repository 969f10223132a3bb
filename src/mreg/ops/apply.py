"""`mreg apply` (SPEC §7): make the tags say what the governed branch asks for.

Everything that can fail (an unregistered version, an unreachable API) is checked before the first
tag is created, so a failed run leaves nothing half-done. Each tag is created with the retry loop of
`promote` and only while the alias still differs: two overlapping runs create one tag, not two.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mreg.errors import IntegrityError, MregError, NotFoundError
from mreg.git import tags as alias_tags
from mreg.layout import ALIASES_BRANCH, ALIASES_REF, policy_path, review_branch
from mreg.manifest import load_yaml
from mreg.results import Applied, Pending

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.ports import Forge

_REASON = re.compile(r"^Reason: (.+)$", re.MULTILINE)
MAX_HISTORY = 200


def pending_changes(ctx: Context, governed: str | None = None) -> list[Pending]:
    """Aliases whose governed pin differs from their newest tag (merged but not applied)."""
    from mreg.policy import desired_aliases, read_policies

    ctx.require_initialised()
    governed = governed or ctx.git.rev_parse(ALIASES_REF)
    if governed is None:
        return []
    out = []
    for (model, alias), pin in sorted(desired_aliases(read_policies(ctx.git, governed)).items()):
        events = ctx.alias_events(model, alias)
        cur = alias_tags.current(events, alias)
        if cur is not None and pin.matches(cur) and ctx.tag_problem(cur) is None:
            continue
        if cur is None and pin.version is None:
            continue  # asks to remove an alias that was never set
        if pin.version is None:
            event = "demote"
        elif any(e.version == pin.version for e in events):
            event = "rollback"  # the alias held this version before
        else:
            event = "promote"
        out.append(Pending(model, alias, event, pin.version, cur.version if cur else None, pin.digest))
    return out


def apply(ctx: Context, *, dry_run: bool = False, sign: bool = False) -> tuple[list[Pending], list[Applied]]:
    """Returns (what was pending, what this run tagged); a concurrent run may have tagged the rest."""
    from mreg.forge.github import forge_for
    from mreg.ops.promote import write_tag
    from mreg.policy import Pin

    ctx.require_initialised()
    governed = ctx.git.rev_parse(ALIASES_REF)
    pending = pending_changes(ctx, governed)
    if not pending or dry_run:
        return pending, []
    assert governed is not None
    tip = ctx.registry_commit()
    from mreg.ops.retention import refuse_if_archived

    for p in pending:  # everything that can refuse is checked before the first tag
        if p.version is None:
            continue
        refuse_if_archived(ctx, p.model, p.version, doing=f"applying {p.model}@{p.alias} = v{p.version}")
        if p.version not in ctx.versions(p.model, tip):
            raise NotFoundError(
                f"{ALIASES_BRANCH} asks for {p.model}@{p.alias} = v{p.version}, which is not registered"
            )
        registered = ctx.load_manifest(p.model, p.version, ctx.registration_commit(p.model, p.version))[
            "digest"
        ]
        if p.digest is not None and registered != p.digest:
            raise IntegrityError(
                f"{ALIASES_BRANCH} approves {p.model}@v{p.version} for {p.alias} with digest {p.digest}, but the "
                f"registered manifest has {registered}; no tag created",
                hint="the reviewers approved other bytes: promote the version again so they review what is registered",
            )
    forge = None
    if ctx.branches.remote is not None and not ctx.offline:
        _, forge = forge_for(ctx.git.remote_url(ctx.branches.remote))
    origins = {}
    for p in pending:  # every API call happens before the first tag
        commit, reason = change_commit(ctx, governed, p)
        origins[(p.model, p.alias)] = (_request(forge, commit, p) if commit else None, reason)
    applied = []
    for p in pending:
        request, reason = origins[(p.model, p.alias)]
        move = write_tag(
            ctx,
            p.model,
            p.alias,
            p.event,
            p.version,
            reason=reason,
            request=request,
            sign=sign,
            pin=Pin(p.version, p.digest),
            governed=governed,
        )
        if move is not None and move.tag is not None:
            applied.append(Applied(p.model, p.alias, p.event, p.version, move.previous, move.tag, request))
    return pending, applied


def change_commit(ctx: Context, governed: str, p: Pending) -> tuple[str | None, str | None]:
    """The first-parent commit of the governed branch that set this value (a merge, for a PR), and its reason."""
    path = policy_path(p.model)
    for sha, parents in _first_parent(ctx, governed, path)[:MAX_HISTORY]:
        if _asked(ctx, sha, p) == p.version and (not parents or _asked(ctx, parents[0], p) != p.version):
            proposal = parents[1] if len(parents) > 1 else sha
            body = ctx.git.commit_message(proposal)
            m = _REASON.search(body)
            return sha, m.group(1).strip() if m else None
    return None, None


def _first_parent(ctx: Context, rev: str, path: str) -> list[tuple[str, list[str]]]:
    return ctx.git.first_parent_log(rev, path)


def _asked(ctx: Context, rev: str, p: Pending) -> object:
    from mreg.policy import pin_of

    blob = ctx.git.read_blob(f"{rev}:{policy_path(p.model)}")
    if blob is None:
        return ...
    try:
        doc = load_yaml(blob, where=policy_path(p.model))
    except MregError:  # an old, broken revision just does not match
        return ...
    aliases = doc.get("aliases") if isinstance(doc, dict) else None
    pin = pin_of(aliases.get(p.alias, ...)) if isinstance(aliases, dict) and p.alias in aliases else None
    return pin.version if pin is not None else ...


def _request(forge: Forge | None, commit: str, p: Pending) -> str:
    """The pull request that merged `commit` into the governed branch; the commit itself without one."""
    if forge is None:
        return commit
    for pr in forge.pulls_for_commit(commit):
        if pr.base == ALIASES_BRANCH and (pr.merge_commit == commit or pr.merged):
            return pr.url
    # GitHub documents merged PRs for commits off the default branch too; older Enterprise Servers list
    # only open ones there: ask by the proposal branch (every page of it).
    for pr in forge.list_pulls(review_branch(p.model, p.alias, p.version), ALIASES_BRANCH, state="closed"):
        if pr.merge_commit == commit:
            return pr.url
    return commit
