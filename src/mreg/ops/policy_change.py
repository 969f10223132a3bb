"""`mreg policy MODEL …` (SPEC §3, §8): change a model's owners and gates, or which aliases are
protected, as a pull request on the governed branch — like a promotion, and never through a checkout
of `mreg/aliases` (a checkout is where a stray `commit -a` reverts merged promotions).

The files are edited in place (mreg.policy_text): comments, key order and flow style stay. Without a
remote there is nobody to review, so the change is committed to the local governed branch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mreg.errors import MregError, UsageError
from mreg.layout import (
    ALIASES_BRANCH,
    ALIASES_REF,
    CODEOWNERS_PATH,
    CONFIG_PATH,
    PROPOSAL_HOLDER_PREFIX,
    policy_branch,
    policy_path,
)
from mreg.refs import check_alias, check_model
from mreg.results import PolicyChange

if TYPE_CHECKING:
    from mreg.context import Context

_OWNER = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9._/-]*\Z")


def parse_rule(text: str) -> dict[str, Any]:
    """A gate rule as people write it in the policy file: `{metric: auc, min: 0.9}`."""
    from mreg.manifest import MODEL_SCHEMA, load_yaml, schema_errors

    rule = load_yaml(text, where=f"--gate rule {text!r}")
    if not isinstance(rule, dict):
        raise UsageError(f"--gate rule {text!r}: expected a mapping like '{{metric: auc, min: 0.9}}'")
    errors = schema_errors({"schema": MODEL_SCHEMA, "gates": {"production": [rule]}}, MODEL_SCHEMA)
    if errors:
        raise UsageError(
            f"--gate rule {text!r}: not a rule ({errors[0].split(': ', 1)[-1]})",
            hint="rules: {metric: M, min: X} | {metric: M, max: X} | {metric: M, not_worse_than: ALIAS, tolerance: T} | {require: [FIELD]}",
        )
    return dict(rule)


@dataclass(frozen=True)
class PolicyEdit:
    """What `mreg policy` was asked to change (each list may be empty; together not all empty)."""

    add_owners: Sequence[str] = ()
    remove_owners: Sequence[str] = ()
    gates: Sequence[tuple[str, dict[str, Any]]] = ()  # (alias, parsed rule)
    clear_gates: Sequence[str] = ()
    protect: Sequence[str] = ()
    unprotect: Sequence[str] = ()

    @property
    def touches_config(self) -> bool:
        return bool(self.protect or self.unprotect)


def propose_policy(
    ctx: Context,
    model: str,
    *,
    add_owners: Sequence[str] = (),
    remove_owners: Sequence[str] = (),
    gates: Sequence[tuple[str, str]] = (),
    clear_gates: Sequence[str] = (),
    protect: Sequence[str] = (),
    unprotect: Sequence[str] = (),
    reason: str | None = None,
) -> PolicyChange:
    edit = _checked_edit(model, add_owners, remove_owners, gates, clear_gates, protect, unprotect)
    ctx.require_initialised()
    if ctx.branches.online:
        ctx.branches.fetch(force=True)
    base = ctx.git.rev_parse(ALIASES_REF)
    if base is None:
        raise UsageError(f"this registry has no {ALIASES_BRANCH} branch", hint="run 'mreg init'")
    start, stacked = _start_point(ctx, model, base)
    said: list[str] = []
    path = policy_path(model)
    new_policy, parsed, files = _policy_file(ctx, start, path, edit, said)
    if edit.touches_config:
        files.update(_config_file(ctx, start, edit, said))
    if not files:
        raise UsageError(f"{ALIASES_BRANCH} already says that: nothing to change")
    files.update(_codeowners(ctx, start, model, parsed))
    if stacked:
        said.append("(added to the open proposal)")
    title = f"policy {model}: " + "; ".join(said)
    message = title + (f"\n\nReason: {reason}" if reason else "")
    if not ctx.branches.online:  # nobody to review: the local governed branch takes it, like --no-review
        from mreg.git.branches import Change

        commit, _ = ctx.branches.commit(ALIASES_BRANCH, lambda _base: Change(files, message))
        return PolicyChange(model, tuple(said), tuple(sorted(files)), None, commit)
    from mreg.ops.review import propose

    tree = ctx.git.write_tree(ctx.git.rev_parse(f"{start}^{{tree}}"), files)
    commit = ctx.git.commit_tree(tree, [start], message + "\n")
    first = ctx.git.read_blob(f"{base}:{path}")  # the PR shows everything it changes, stacked or not
    body = _body(
        model,
        said,
        reason,
        path,
        first.decode("utf-8", "replace") if first is not None else None,
        new_policy.decode("utf-8", "replace"),
    )
    review = propose(ctx, policy_branch(model), commit, title, body)
    return PolicyChange(model, tuple(said), tuple(sorted(files)), review, None)


def _checked_edit(
    model: str,
    add_owners: Sequence[str],
    remove_owners: Sequence[str],
    gates: Sequence[tuple[str, str]],
    clear_gates: Sequence[str],
    protect: Sequence[str],
    unprotect: Sequence[str],
) -> PolicyEdit:
    check_model(model)
    for owner in (*add_owners, *remove_owners):
        if not _OWNER.match(owner):
            raise UsageError(f"--owner {owner!r}: not a git-host user or team (alice, @alice, acme/ml-leads)")
    rules = [(check_alias(alias), parse_rule(text)) for alias, text in gates]
    for alias in (*clear_gates, *protect, *unprotect):
        check_alias(alias)
    edit = PolicyEdit(add_owners, remove_owners, rules, clear_gates, protect, unprotect)
    if not (add_owners or remove_owners or rules or clear_gates or edit.touches_config):
        raise UsageError(
            "nothing to change",
            hint="give --owner, --remove-owner, --gate, --clear-gate, --protect or --unprotect",
        )
    return edit


def _start_point(ctx: Context, model: str, base: str) -> tuple[str, bool]:
    """A proposal for this model that is still open (built on today's governed tip) is added to, not
    replaced: a second `mreg policy` must not silently drop the first one's changes."""
    if ctx.branches.online and ctx.branches.remote is not None:
        holder = f"{PROPOSAL_HOLDER_PREFIX}{model}"
        fetched = ctx.git.fetch_refspec(ctx.branches.remote, f"+refs/heads/{policy_branch(model)}:{holder}")
        open_tip = ctx.git.rev_parse(holder) if fetched else None
        if open_tip and open_tip != base and ctx.git.is_ancestor(base, open_tip):
            return open_tip, True
    return base, False


def _edit_policy(doc: Any, edit: PolicyEdit, said: list[str]) -> None:
    """Owners and gates, edited in place (a flow or block style stays as written)."""
    from mreg import policy_text

    if (edit.add_owners or edit.remove_owners) and not isinstance(doc.get("owners"), list):
        doc["owners"] = policy_text.flow_list([])
    owners = doc.get("owners")
    for o in edit.add_owners:
        if o not in owners:
            owners.append(o)
            said.append(f"owner +{o}")
    for o in edit.remove_owners:
        if o in owners:
            owners.remove(o)
            said.append(f"owner -{o}")
    for alias in edit.clear_gates:
        g = doc.get("gates")
        if isinstance(g, dict) and alias in g:
            del g[alias]
            said.append(f"gates.{alias} cleared")
    for alias, rule in edit.gates:
        g = policy_text.ensure_map(doc, "gates")
        if not isinstance(g.get(alias), list):
            g[alias] = []
        if rule not in [dict(r) for r in g[alias]]:
            g[alias].append(policy_text.flow(rule))
            said.append(f"gates.{alias} + {_rule_text(rule)}")


def _policy_file(
    ctx: Context, start: str, path: str, edit: PolicyEdit, said: list[str]
) -> tuple[bytes, dict[str, Any], dict[str, bytes | None]]:
    """The edited policy file, parsed (an edit that would make it invalid is refused), and the file
    to write when it changed."""
    from mreg import policy_text
    from mreg.manifest import MODEL_SCHEMA
    from mreg.policy import parse_policy

    old = ctx.git.read_blob(f"{start}:{path}")
    old_text = old.decode("utf-8", "replace") if old is not None else None
    new_policy = policy_text.edit(
        old_text, lambda doc: _edit_policy(doc, edit, said), new={"schema": MODEL_SCHEMA}
    )
    try:
        parsed = parse_policy(new_policy, where=f"{ALIASES_BRANCH}:{path}")
    except MregError as exc:
        raise UsageError(f"the change would make an invalid policy: {exc.message}") from None
    changed = (old is None or new_policy != old) and bool(said)
    return new_policy, parsed, ({path: new_policy} if changed else {})


def _config_file(ctx: Context, start: str, edit: PolicyEdit, said: list[str]) -> dict[str, bytes | None]:
    """mreg.yaml with the protected aliases changed, when they change."""
    from mreg import policy_text

    config_old = ctx.git.read_blob(f"{start}:{CONFIG_PATH}")

    def change_config(doc: Any) -> None:
        current = list(doc.get("protected_aliases", ["production"]) or [])
        updated = [a for a in current if a not in edit.unprotect] + [
            a for a in edit.protect if a not in current
        ]
        said.extend(f"protect {a}" for a in edit.protect if a not in current)
        said.extend(f"unprotect {a}" for a in edit.unprotect if a in current)
        if updated != current:
            doc["protected_aliases"] = updated

    text = config_old.decode("utf-8", "replace") if config_old is not None else None
    new_config = policy_text.edit(text, change_config, new={"schema": "mreg/registry/v1"})
    return {CONFIG_PATH: new_config} if config_old is None or new_config != config_old else {}


def _codeowners(ctx: Context, start: str, model: str, parsed: dict[str, Any]) -> dict[str, bytes | None]:
    from mreg.policy import read_policies, render_codeowners

    policies = read_policies(ctx.git, start)
    policies[model] = parsed
    owners_blob = render_codeowners(policies)
    return (
        {CODEOWNERS_PATH: owners_blob}
        if ctx.git.read_blob(f"{start}:{CODEOWNERS_PATH}") != owners_blob
        else {}
    )


def _rule_text(rule: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in rule.items()) + "}"


def _body(model: str, said: list[str], reason: str | None, path: str, old: str | None, new: str) -> str:
    import difflib

    from mreg.text import md

    diff = "".join(
        difflib.unified_diff((old or "").splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}")
    )
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", diff)), default=0) + 1)
    lines = [f"## policy `{model}`", "", *[f"- {md(s)}" for s in said]]
    if reason:
        lines += ["", f"**Reason:** {md(reason)}"]
    lines += ["", f"{fence}diff", diff.rstrip("\n"), fence, "", f"<!-- mreg:policy model={model} -->"]
    return "\n".join(lines) + "\n"
