"""A protected alias move becomes a pull request against the governed branch (SPEC §7).

One commit off `mreg/aliases` sets the alias in `models/<model>.yaml` and regenerates CODEOWNERS;
it goes to the scratch branch `mreg/promote/<model>/<alias>/v<n>` (the only ref mreg ever
force-pushes: it is a proposal, rebuilt on each request), and a pull request carries the gate
report. No tag is created here: `mreg apply` does that after the merge.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mreg.errors import NotFoundError, RemoteError, UsageError
from mreg.git import tags as alias_tags
from mreg.git.tags import subject
from mreg.layout import (
    ALIASES_BRANCH,
    ALIASES_REF,
    CODEOWNERS_PATH,
    REGISTRY_BRANCH,
    policy_path,
    review_branch,
)
from mreg.ops.inspect import diff
from mreg.policy import Pin, pins_of, read_policies, render_codeowners
from mreg.refs import Ref
from mreg.results import AliasMove, Review
from mreg.text import md, md_code

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.results import GateReport, Version


REASON_SHOWN = 4000  # characters of a --reason shown in the description (the tag keeps it whole)


def request_review(
    ctx: Context, model: str, alias: str, event: str, version: int | None, *, reason: str | None
) -> AliasMove:
    """Push the proposal branch and open (or update) its pull request; never a tag."""
    from mreg.ops.gate import evaluate_candidate

    remote = ctx.branches.remote
    if remote is None:
        raise UsageError(f"alias {alias!r} is protected and this registry has no remote to review the move")
    ctx.branches.ensure_pushed(REGISTRY_BRANCH)  # the PR must name a version the remote has
    ctx.branches.fetch(force=True)
    base = ctx.git.rev_parse(ALIASES_REF)
    if base is None:
        raise NotFoundError(
            f"this registry has no {ALIASES_BRANCH} branch to review against", hint="run 'mreg init'"
        )
    cur = alias_tags.current(ctx.alias_events(model, alias), alias)
    current = cur.version if cur else None
    if event == "demote" and current is None:
        raise NotFoundError(f"alias {alias!r} of {model!r} is not set")
    candidate = ctx.resolve(Ref(model, version=version)) if version is not None else None

    policies = read_policies(ctx.git, base)
    doc = policies.get(model)
    pin = Pin(version, candidate.digest if candidate is not None else None)
    asked = pins_of(doc).get(alias)
    if asked is not None and asked == pin:
        if current == version:
            raise UsageError(f"{model}@{alias} is already {'removed' if version is None else f'v{version}'}")
        raise UsageError(
            f"{ALIASES_BRANCH} already asks for {model}@{alias} = {'(removed)' if version is None else f'v{version}'}: merged but not applied",
            hint="run 'mreg apply' (CI normally does after each merge)",
        )
    old_text = ctx.git.read_blob(f"{base}:{policy_path(model)}")
    files = {
        policy_path(model): pin_in_text(old_text, alias, pin),
        CODEOWNERS_PATH: render_codeowners(policies),
    }
    title = subject(event, model, alias, version)
    message = title + (f"\n\nReason: {reason}" if reason else "") + "\n"
    tree = ctx.git.write_tree(ctx.git.rev_parse(f"{base}^{{tree}}"), files)
    commit = ctx.git.commit_tree(tree, [base], message)

    rules = list(((doc or {}).get("gates") or {}).get(alias) or [])
    report = evaluate_candidate(ctx, candidate, alias, rules) if candidate is not None else None
    body = review_body(ctx, event, model, alias, version, current, reason, report)
    review = propose(ctx, review_branch(model, alias, version), commit, title, body)
    review = replace(review, gate=None if report is None else ("passed" if report.ok else "failed"))
    return AliasMove(model, alias, event, version, current, None, review=review)


def pin_in_text(old: bytes | None, alias: str, pin: Pin) -> bytes:
    """The policy file with one pin set, every other line — comments, order, style — as people wrote it."""
    from mreg import policy_text
    from mreg.manifest import MODEL_SCHEMA

    def change(doc: Any) -> None:
        aliases = policy_text.ensure_map(doc, "aliases")
        value = pin.as_yaml()
        aliases[alias] = policy_text.flow(value) if value is not None else None

    return policy_text.edit(
        old.decode("utf-8", "replace") if old is not None else None, change, new={"schema": MODEL_SCHEMA}
    )


def propose(ctx: Context, branch: str, commit: str, title: str, body: str) -> Review:
    """Push `commit` as the proposal branch and open (or update) its pull request against the governed
    branch; everything that can refuse (token, repository, API) is asked before anything is pushed, and
    a branch pushed only for a pull request that could not be opened is deleted again."""
    from mreg.forge.github import compare_url, forge_for

    remote = ctx.branches.remote
    if remote is None:
        raise UsageError("this registry has no remote to review the change")
    target, forge = forge_for(ctx.git.remote_url(remote))
    if forge is not None:
        # a no-op when it fits (review_body fitted it)
        body = fit_body([], body.removesuffix("\n").split("\n"), [], f"the branch {branch}")
    existing = None
    if forge is not None:
        existing = forge.find_open_pull(branch, ALIASES_BRANCH)
    had_branch = ctx.git.remote_has_branch(remote, branch)
    pushed = ctx.git.push(remote, [f"+{commit}:refs/heads/{branch}"])
    if not pushed.ok:
        raise RemoteError(
            f"cannot push the review branch {branch} to {remote}: {pushed.detail.strip()[:200]}"
        )
    pr = None
    if forge is not None:
        try:
            if existing is not None:
                pr = forge.update_pull(existing.number, title=title, body=body)
            else:
                pr = forge.create_pull(head=branch, base=ALIASES_BRANCH, title=title, body=body)
        except Exception:  # any failure (an MregError, or a bug): the branch is not left behind
            if not had_branch:  # leave nothing behind: the branch was only for this pull request
                ctx.git.push(remote, [f":refs/heads/{branch}"])
            raise
    return Review(
        branch,
        url=pr.url if pr else None,
        number=pr.number if pr else None,
        compare_url=compare_url(target, ALIASES_BRANCH, branch) if target else None,
        updated=existing is not None,
    )


def review_body(
    ctx: Context,
    event: str,
    model: str,
    alias: str,
    version: int | None,
    current: int | None,
    reason: str | None,
    report: GateReport | None,
) -> str:
    """The pull request's description: what changes, the gate, and the candidate against the current version."""
    from mreg import gates

    target = f"v{version}" if version is not None else "(removed)"
    now = f"v{current}" if current is not None else "unset"
    lines = [
        f"## {subject(event, model, alias, version)}",
        "",
        f"`{model}@{alias}`: {now} → **{target}**. Merging pins `aliases.{alias}` in `{policy_path(model)}`"
        " to this version and its digest (the exact bytes below); `mreg apply` (CI, after the merge) then creates the alias tag.",
    ]
    if reason:
        lines += [
            "",
            f"**Reason:** {md(reason[:REASON_SHOWN])}" + ("…" if len(reason) > REASON_SHOWN else ""),
        ]
    if report is not None:
        status = "passed" if report.ok else "FAILED"
        lines += ["", f"### Gate for `{alias}`: {status}", "", gates.markdown_table(report.verdicts).rstrip()]
    detail = ["", *_comparison(ctx, model, version, current)] if version is not None else []
    tail = [
        "",
        f"<!-- mreg:review model={model} alias={alias} version={version if version is not None else 'none'} -->",
    ]
    whole = f"`mreg diff {model}@v{current} {model}@v{version}`" if current not in (None, version) else ""
    whole += (" or " if whole else "") + f"`mreg show {model}@v{version}`"
    return fit_body(lines, detail, tail, whole)


def fit_body(head: list[str], detail: list[str], tail: list[str], whole: str) -> str:
    """`head`, as much of `detail` as fits, `tail`: at most GitHub's limit for a pull request's body
    (counted in UTF-8 bytes, so it fits however GitHub counts characters). The gate table is in
    `head`, so it always comes first and whole; what is left out is said, with the command (`whole`)
    that shows all of it."""
    from mreg.forge.github import BODY_LIMIT

    def size(lines: list[str]) -> int:
        return sum(len(line.encode()) + 1 for line in lines)

    def joined(lines: list[str]) -> str:  # one final newline, however many empty lines end `lines`
        return "\n".join(lines).rstrip("\n") + "\n"

    if len(joined([*head, *detail, *tail]).encode()) <= BODY_LIMIT:
        return joined([*head, *detail, *tail])
    note_room = 400 + len(whole.encode())
    room = BODY_LIMIT - size(head) - size(tail) - note_room
    if room < 0:  # the head alone is too long (a gate of thousands of rules): cut it, keep the tail
        text = "\n".join(head).encode()[: BODY_LIMIT - size(tail) - 200].decode("utf-8", "ignore")
        head, detail, room = (
            [*text.rsplit("\n", 1)[:1], "", "*… cut here: too long for a pull request.*"],
            [],
            0,
        )
    kept: list[str] = []
    for line in detail:
        if size(kept) + len(line.encode()) + 1 > room:
            break
        kept.append(line)
    left = len(detail) - len(kept)
    note = (
        [
            "",
            f"*{left} more lines left out here: GitHub takes at most {BODY_LIMIT:,} characters in a pull "
            f"request's description (mreg counts bytes, to be safe). {whole} shows everything.*",
        ]
        if left
        else []
    )
    return joined([*head, *kept, *note, *tail])


def _comparison(ctx: Context, model: str, version: int, current: int | None) -> list[str]:
    cand = ctx.resolve(Ref(model, version=version))
    m = cand.manifest
    if current is None or current == version:
        return [f"### {cand.ref}", "", *_facts(cand)]
    d = diff(ctx, f"{model}@v{current}", cand.ref).to_json()
    old, new = f"v{current}", f"v{version}"
    out = [f"### {cand.ref} against {model}@v{current} (the alias's current version)", ""]
    metrics = sorted(set(m.get("metrics") or {}) | {r["key"] for r in d["metrics"]})
    if metrics:
        changed = {r["key"]: r for r in d["metrics"]}
        out += ["| metric | " + old + " | " + new + " | delta |", "|---|---|---|---|"]
        for key in metrics:
            r = changed.get(key)
            if r is None:
                v = (m.get("metrics") or {}).get(key)
                out.append(f"| {md(key)} | {_v(v)} | {_v(v)} | 0 |")
            else:
                delta = "" if r.get("delta") is None else f"{r['delta']:+.6g}"
                out.append(f"| {md(key)} | {_v(r['old'])} | {_v(r['new'])} | {delta} |")
        out.append("")
    for title, key in (("params", "params"), ("data", "data"), ("environment", "environment")):
        if d[key]:
            out += [f"**{title} changed**", "", f"| {title} | {old} | {new} |", "|---|---|---|"]
            out += [f"| {md(r['key'])} | {_v(r['old'])} | {_v(r['new'])} |" for r in d[key]]
            out.append("")
    if d.get("packages"):
        out += ["**packages changed**", "", f"| package | change | {old} | {new} |", "|---|---|---|---|"]
        out += [
            f"| {md(r['package'])} | {r['change']} | {md(r['old'] or '-')} | {md(r['new'] or '-')} |"
            for r in d["packages"]
        ]
        out.append("")
    out += [
        f"**artifacts** ({'same bytes as ' + old if d['same_artifacts'] else 'digest ' + m['digest']})",
        "",
    ]
    out += _artifacts(cand)
    return out


def _facts(v: Version) -> list[str]:
    m = v.manifest
    out = []
    if m.get("metrics"):
        out += (
            ["| metric | value |", "|---|---|"]
            + [f"| {md(k)} | {_v(x)} |" for k, x in m["metrics"].items()]
            + [""]
        )
    if m.get("params"):
        out += (
            ["| param | value |", "|---|---|"]
            + [f"| {md(k)} | {_v(x)} |" for k, x in m["params"].items()]
            + [""]
        )
    for d in m.get("data") or []:
        out.append(
            f"- data {md_code(d['name'])} = {md_code(d['uri'])} {md(d.get('digest') or d.get('etag') or '')}".rstrip()
        )
    env = m["environment"]
    out.append(
        f"- environment: python {md(env['python'])} on {md(env['platform'])}, packages `{env['packages']}`"
    )
    out += ["", f"**artifacts** (digest `{m['digest']}`)", "", *_artifacts(v)]
    return out


def _artifacts(v: Version) -> list[str]:
    rows = ["| path | size | digest |", "|---|---|---|"]
    rows += [f"| {md_code(a['path'])} | {a['size']} | `{a['digest']}` |" for a in v.manifest["artifacts"]]
    return rows


def _v(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{md(k)}={_v(x)}" for k, x in value.items())
    return md(value)
