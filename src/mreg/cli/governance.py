"""check, gate, apply: the review flow's commands (SPEC §7, §9). Registered on the main app.

Each prints its whole report before failing, so a CI log always shows every problem, then raises
CheckFailedError (exit 1) when something failed. Under GitHub Actions they also annotate and
summarise (mreg.integrations.github_actions).
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from mreg.cli._base import AtOpt, JsonOpt, OfflineOpt, RegistryOpt, RepoOpt, command_group
from mreg.cli._render import echo, emit_json, review_lines, table
from mreg.cli._session import open_registry as _open

app = command_group()


@app.command()
def check(
    base: Annotated[
        Optional[str],
        typer.Option(
            "--base",
            metavar="REV",
            help="Registry-branch commit to compare with: no manifest may change after it.",
        ),
    ] = None,
    objects: Annotated[
        bool, typer.Option("--objects", help="Also check that every referenced object is in the store.")
    ] = False,
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate both branches: schemas, immutability, governed aliases against tags."""
    from mreg.errors import CheckFailedError
    from mreg.integrations import github_actions as ci
    from mreg.text import md, md_code

    result = _open(repo, registry=registry, offline=offline).check(base=base, objects=objects)
    summary = (
        f"checked {result.manifests} manifest(s), "
        + (f"{result.evaluations} evaluation(s), " if result.evaluations else "")
        + f"{result.policies} policy file(s), {result.tags} alias tag(s)"
        + (f", {result.objects} object(s)" if result.objects is not None else "")
    )
    if as_json:
        emit_json(result.to_json())
    else:
        for p in result.problems:
            echo(p)
        for w in result.warnings:
            echo(f"warning: {w}")
        echo(f"{summary}: " + ("ok" if result.ok else f"{len(result.problems)} problem(s)"))
    if ci.under_actions():
        for p in result.problems:
            print(
                ci.annotate_error(
                    f"{p.branch}: {p.message}" if p.path else p.message, file=p.path, line=p.line
                )
            )
        lines = [
            f"### mreg check: {'ok' if result.ok else f'{len(result.problems)} problem(s)'}",
            "",
            summary,
            "",
        ]
        for p in result.problems:
            where = f"{p.branch}:{p.path or ''}" + (f":{p.line}" if p.line else "")
            lines.append(f"- {md_code(where)} {md(p.message)}")
        ci.write_summary("\n".join(lines))
    if not result.ok:
        raise CheckFailedError(f"mreg check found {len(result.problems)} problem(s)")


def _render_gate(reports: list[Any], *, explain: bool = False) -> None:
    from mreg.cli._render import fmt_value

    if not reports:
        echo("no alias changes to gate")
        return
    for i, r in enumerate(reports):
        if i:
            print()
        echo(f"{r.title}: {'passed' if r.ok else 'FAILED'}")
        if not r.verdicts:
            echo(
                "  (no gate rules for this alias)"
                if r.version is not None or not r.rules
                else "  (removing an alias: nothing to measure)"
            )
            continue
        print(
            table(
                ["RULE", "RESULT", "CANDIDATE", "REQUIRED", "NOTE"],
                [
                    [v.rule, "pass" if v.ok else "FAIL", fmt_value(v.actual), v.expected, v.note]
                    for v in r.verdicts
                ],
            )
        )
        if explain and any(v.sources for v in r.verdicts):
            echo("  where each figure came from:")
            for v in r.verdicts:
                for source in v.sources:
                    echo(f"    {v.rule}: {source}")


@app.command()
def gate(
    ref: Annotated[
        Optional[str],
        typer.Argument(metavar="REF", help="The candidate version (MODEL@vN, MODEL@ALIAS, MODEL)."),
    ] = None,
    to: Annotated[
        Optional[str], typer.Option("--to", metavar="ALIAS", help="The alias whose gate to evaluate.")
    ] = None,
    changed: Annotated[
        bool,
        typer.Option("--changed", help="Gate every alias change between --base and --head of mreg/aliases."),
    ] = False,
    base: Annotated[
        str,
        typer.Option(
            "--base",
            metavar="REV",
            help="With --changed: the governed branch before the change (a PR's base).",
        ),
    ] = "refs/heads/mreg/aliases",
    head: Annotated[
        str,
        typer.Option(
            "--head",
            metavar="REV",
            help="With --changed: the governed branch after the change (a PR's head or merge ref).",
        ),
    ] = "HEAD",
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Cite the record behind every figure: manifest or evaluation, who, when."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a model's gate for an alias (rules from models/<model>.yaml on mreg/aliases)."""
    from mreg.errors import CheckFailedError, UsageError
    from mreg.integrations import github_actions as ci

    reg = _open(repo, registry=registry, offline=offline)
    if changed:
        if ref is not None or to is not None:
            raise UsageError("gate takes REF --to ALIAS, or --changed, not both")
        run = reg.gate_changes(base=base, head=head)
    else:
        if ref is None or to is None:
            raise UsageError("gate needs REF --to ALIAS (or --changed --base REF)")
        from mreg.cli._session import when
        from mreg.results import GateRun

        run = GateRun((reg.gate(ref, to, at=when(at)),))
    reports = list(run.reports)
    failed = [r for r in reports if not r.ok]
    if as_json:
        emit_json(run.to_json())
    else:
        _render_gate(reports, explain=explain)
    if ci.under_actions():
        for r in failed:
            for v in r.verdicts:
                if not v.ok:
                    print(
                        ci.annotate_error(
                            f"gate {r.title}: {v.rule}: {v.actual} (required {v.expected}) {v.note}".rstrip()
                        )
                    )
        ci.write_summary(run.markdown())
    if failed:
        names = ", ".join(r.label or f"{r.model}@{r.alias}" for r in failed)
        raise CheckFailedError(f"gate failed for {names}")


@app.command("apply")
def apply_(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be tagged; create nothing.")
    ] = False,
    sign: Annotated[
        bool,
        typer.Option(
            "--sign",
            help="Sign the tags (git's signing key; gpg.format=ssh for an SSH key), for mreg.yaml: signers.",
        ),
    ] = False,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create the alias tags that merged changes on mreg/aliases ask for (idempotent)."""
    import json

    from mreg.integrations import github_actions as ci

    report = _open(repo, offline=offline).apply(dry_run=dry_run, sign=sign)
    pending, applied = report.pending, report.applied
    if as_json:
        emit_json(report.to_json())
    elif dry_run:
        for p in pending:
            echo(f"would apply {p.describe()}")
        if not pending:
            echo("nothing to apply: the tags say what mreg/aliases asks for")
    else:
        for a in applied:
            to = f"-> v{a.version}" if a.version is not None else "removed"
            echo(f"applied {a.model}@{a.alias} {to} [{a.tag}]" + (f" ({a.request})" if a.request else ""))
        if not applied:
            echo("nothing to apply: the tags say what mreg/aliases asks for")
    if not dry_run:
        ci.write_outputs(
            {
                "applied": json.dumps([a.to_json() for a in applied]),
                "count": len(applied),
                "tags": " ".join(a.tag for a in applied),
            }
        )


@app.command()
def policy(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="The model whose policy changes.")],
    owner: Annotated[
        Optional[list[str]],
        typer.Option("--owner", metavar="USER", help="Add an owner (git-host user or org/team; repeatable)."),
    ] = None,
    remove_owner: Annotated[
        Optional[list[str]],
        typer.Option("--remove-owner", metavar="USER", help="Remove an owner (repeatable)."),
    ] = None,
    gate: Annotated[
        Optional[list[str]],
        typer.Option(
            "--gate",
            metavar="ALIAS=RULE",
            help="Add a gate rule, e.g. 'production={metric: auc, min: 0.9}' or 'production {metric: auc, min: 0.9}' (repeatable).",
        ),
    ] = None,
    clear_gate: Annotated[
        Optional[list[str]],
        typer.Option(
            "--clear-gate", metavar="ALIAS", help="Remove every gate rule of an alias (repeatable)."
        ),
    ] = None,
    protect: Annotated[
        Optional[list[str]],
        typer.Option(
            "--protect", metavar="ALIAS", help="Protect an alias: moves need a reviewed PR (repeatable)."
        ),
    ] = None,
    unprotect: Annotated[
        Optional[list[str]],
        typer.Option("--unprotect", metavar="ALIAS", help="Stop protecting an alias (repeatable)."),
    ] = None,
    reason: Annotated[
        Optional[str], typer.Option("--reason", metavar="TEXT", help="Why: in the PR and the commit.")
    ] = None,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Propose a policy change (owners, gates, protected aliases) as a PR on mreg/aliases; never a checkout."""
    import re

    from mreg.errors import UsageError

    rules = []
    for item in gate or []:  # ALIAS=RULE or "ALIAS RULE" (SPEC §8 writes --gate ALIAS RULE)
        m = re.match(r"^\s*([^\s=]+)\s*(?:=|\s)\s*(\S.*)\Z", item, re.S)
        if not m:
            raise UsageError(
                f"--gate {item!r}: expected ALIAS=RULE, e.g. 'production={{metric: auc, min: 0.9}}'"
            )
        rules.append((m.group(1), m.group(2)))
    change = _open(repo, offline=offline).change_policy(
        model,
        add_owners=owner or [],
        remove_owners=remove_owner or [],
        gates=rules,
        clear_gates=clear_gate or [],
        protect=protect or [],
        unprotect=unprotect or [],
        reason=reason,
    )
    if as_json:
        emit_json(change.to_json())
        return
    for line in change.changes:
        echo(f"  {line}")
    if change.commit is not None:
        echo(
            f"committed to mreg/aliases ({change.commit[:12]}): this registry has no remote, so nobody else reviews it"
        )
        return
    if change.review is not None:
        echo(f"review requested: policy of {model} on branch {change.review.branch}")
        for line in review_lines(change.review):
            echo(line)
