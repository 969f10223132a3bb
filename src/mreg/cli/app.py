"""Commands of SPEC §8: parse → call Registry → render. Heavy imports happen inside each command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from mreg.cli import dashboard, evaluations, governance, imports, lineage
from mreg.cli._base import (
    AllowUnreviewedOpt,
    AtOpt,
    JobsOpt,
    JsonOpt,
    OfflineOpt,
    RegistryOpt,
    RepoOpt,
    make_app,
)
from mreg.cli._render import Progress, echo, emit_json, fmt_value, review_lines, table
from mreg.cli._session import open_registry as _open
from mreg.cli._session import warn as _warn
from mreg.cli._session import when as _at
from mreg.text import size_text

if TYPE_CHECKING:
    from mreg.results import AliasMove

app = make_app()
app.add_typer(governance.app)  # check, gate, apply, policy: the review flow (SPEC §7, §9)
app.add_typer(evaluations.app, name="eval")  # eval add, eval list (SPEC §11)
app.add_typer(lineage.app)  # lineage: parents, descendants, datasets (SPEC §11)
app.add_typer(dashboard.app)  # report: the dashboard (SPEC §13)
app.add_typer(imports.app, name="import")  # import mlflow, import gto (SPEC §14)


@app.command()
def init(
    store: Annotated[
        Optional[str],
        typer.Option(
            "--store", metavar="URL", help="Object store URL (s3://bucket/prefix, file:///path, …)."
        ),
    ] = None,
    remote: Annotated[
        Optional[str],
        typer.Option("--remote", metavar="NAME", help="Git remote to publish to (default origin)."),
    ] = None,
    github: Annotated[
        bool, typer.Option("--github", help="Also commit the apply workflow onto mreg/aliases.")
    ] = False,
    repo: RepoOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Create the registry branches (a second run changes nothing)."""
    reg = _open(repo)
    result = reg.init(store=store, remote=remote, github=github)
    created = result.created
    if as_json:
        emit_json(result.to_json())
    elif created:
        for what in created:
            echo(what if what.startswith("updated ") else f"created {what}")
    else:
        echo("mreg registry already initialised; nothing changed")


@app.command()
def register(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model name.")],
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH...", help="Files or directories (recursively) to store.")
    ],
    param: Annotated[
        Optional[list[str]], typer.Option("--param", metavar="K=V", help="K=V hyperparameter (repeatable).")
    ] = None,
    params: Annotated[
        Optional[list[str]],
        typer.Option("--params", metavar="FILE", help="YAML/JSON file of hyperparameters."),
    ] = None,
    metric: Annotated[
        Optional[list[str]],
        typer.Option("--metric", metavar="K=V", help="K=V metric, a number (repeatable)."),
    ] = None,
    metrics: Annotated[
        Optional[list[str]], typer.Option("--metrics", metavar="FILE", help="YAML/JSON file of metrics.")
    ] = None,
    data: Annotated[
        Optional[list[str]],
        typer.Option("--data", metavar="NAME=URI", help="NAME=URI data reference (repeatable)."),
    ] = None,
    lockfile: Annotated[
        Optional[str],
        typer.Option("--lockfile", metavar="FILE", help="Environment lock file to store with the version."),
    ] = None,
    image: Annotated[
        Optional[str], typer.Option("--image", metavar="IMAGE", help="Container image reference.")
    ] = None,
    parent: Annotated[
        Optional[str],
        typer.Option("--parent", metavar="REF", help="Reference of the version this was fine-tuned from."),
    ] = None,
    message: Annotated[
        Optional[str], typer.Option("-m", "--message", metavar="TEXT", help="What this version is.")
    ] = None,
    allow_secret_like: Annotated[
        Optional[list[str]],
        typer.Option(
            "--allow-secret-like", metavar="KEY", help="Record this secret-looking param anyway (repeatable)."
        ),
    ] = None,
    jobs: JobsOpt = None,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Store the files, write the manifest, print MODEL@vN."""
    from mreg.integrations import github_actions as ci

    reg = _open(repo, offline=offline)
    progress = Progress(not as_json)
    result = reg.register(
        model,
        paths,
        params=param or [],
        params_files=params or [],
        metrics=metric or [],
        metrics_files=metrics or [],
        data=data or [],
        lockfile=lockfile,
        image=image,
        parent=parent,
        message=message,
        progress=progress.bar,
        on_duplicate=_warn,
        jobs=jobs,
        allow_secret_like=allow_secret_like or [],
    )
    ci.write_outputs({"model": result.model, "version": result.version, "digest": result.digest})
    if as_json:
        emit_json(result.to_json())
    else:
        print(result.ref)


@app.command("list")
def list_(
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Models, their latest version and aliases."""
    rows = [r.to_json() for r in _open(repo, registry=registry, offline=offline).list_models(_at(at))]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        echo("no models registered yet")
        return

    def aliases(r: dict[str, Any]) -> str:
        shown = [f"{a}=v{v}" for a, v in r["aliases"].items()] + [
            f"{a}=UNREVIEWED" for a in r.get("unreviewed", {})
        ]
        return ", ".join(shown)

    def lifecycle(r: dict[str, Any]) -> str:
        parts = []
        if r.get("archived"):
            parts.append("archived " + ",".join(f"v{n}" for n in r["archived"]))
        if r.get("purged"):
            parts.append(f"{len(r['purged'])} purged")
        return "; ".join(parts)

    header = ["MODEL", "LATEST", "VERSIONS", "ALIASES"]
    cells = [[r["model"], f"v{r['latest']}", r["versions"], aliases(r)] for r in rows]
    if any(lifecycle(r) for r in rows):  # a column only when some version is archived or purged
        header.append("LIFECYCLE")
        for row, r in zip(cells, rows, strict=True):
            row.append(lifecycle(r))
    print(table(header, cells))
    for r in rows:
        for a, tag in r.get("unreviewed", {}).items():
            _warn(
                f"{r['model']}@{a}: tag {tag} is not backed by a reviewed pin on mreg/aliases; readers refuse it ('mreg check' explains)"
            )


@app.command()
def show(
    ref: Annotated[str, typer.Argument(metavar="REF", help="MODEL, MODEL@vN or MODEL@ALIAS.")],
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    allow_unreviewed: AllowUnreviewedOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """One version: its manifest and the aliases on it."""
    reg = _open(repo, registry=registry, offline=offline)
    v = reg.show(ref, _at(at), allow_unreviewed=allow_unreviewed)
    if as_json:
        emit_json(v.to_json())
        return
    m = v.manifest
    src: Mapping[str, Any] = m.get("source") or {}
    env = m["environment"]
    echo(f"{v.ref}" + (f"  ({', '.join(v.aliases)})" if v.aliases else ""))
    st = reg.lifecycle(v.model, _at(at)).get(v.version)
    if st is not None and st.archived and st.archive_event is not None:
        from mreg.ops.lifecycle import describe

        echo(f"  ARCHIVED    {describe(st.archive_event)}")
    echo(f"  digest      {m['digest']}")
    echo(f"  created     {m['created_at']} by {m['created_by']}")
    if m.get("message"):
        echo(f"  message     {m['message']}")
    if src.get("commit"):
        echo(
            f"  source      {src.get('repository') or '(no remote)'} @ {src['commit'][:12]}{' (dirty)' if src.get('dirty') else ''}"
        )
    echo(
        f"  environment {env['python']} on {env['platform']}, packages {env['packages'][:19]}…"
        + (f", lockfile {env['lockfile']['path']}" if "lockfile" in env else "")
        + (f", image {env['image']}" if "image" in env else "")
    )
    if m.get("parent"):
        echo(f"  parent      {m['parent']}")
    for title, mapping in (("params", m.get("params") or {}), ("metrics", m.get("metrics") or {})):
        if mapping:
            echo(f"  {title:<11} " + ", ".join(f"{k}={fmt_value(val)}" for k, val in mapping.items()))
    for d in m.get("data") or []:
        extra = d.get("digest") or d.get("etag") or ""
        echo(f"  data        {d['name']} = {d['uri']} {extra}".rstrip())
    echo(f"  artifacts   {len(m['artifacts'])} file(s), {size_text(sum(a['size'] for a in m['artifacts']))}")
    for a in m["artifacts"]:
        echo(f"    {a['path']}  {size_text(a['size'])}  {a['digest'][:19]}…")
    if v.evaluations:
        echo(f"  evaluations {len(v.evaluations)}")
        for line in table(
            ["#", "DATASET", "IDENTITY", "METRICS", "BY", "AT"], evaluations.rows(v.evaluations)
        ).splitlines():
            echo(f"    {line}")


@app.command()
def resolve(
    ref: Annotated[str, typer.Argument(metavar="REF", help="MODEL, MODEL@vN or MODEL@ALIAS.")],
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    allow_unreviewed: AllowUnreviewedOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Print MODEL@vN (with --json: the manifest and its aliases)."""
    from mreg.integrations import github_actions as ci

    reg = _open(repo, registry=registry, offline=offline)
    if as_json:
        v = reg.resolve(ref, _at(at), allow_unreviewed=allow_unreviewed)
        emit_json(v.to_json())
    else:
        v = reg.resolve(ref, _at(at), allow_unreviewed=allow_unreviewed, with_aliases=False)
        print(v.ref)
    ci.write_outputs({"model": v.model, "version": v.version, "digest": v.digest})


@app.command()
def pull(
    ref: Annotated[str, typer.Argument(metavar="REF", help="MODEL, MODEL@vN or MODEL@ALIAS.")],
    out: Annotated[
        Optional[str],
        typer.Option("-o", "--output", metavar="DIR", help="Destination directory (default MODEL-vN)."),
    ] = None,
    jobs: JobsOpt = None,
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    allow_unreviewed: AllowUnreviewedOpt = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace DIR even when it holds files that are not an earlier pull of this model."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Download the artifacts, verified against their digests; DIR ends up holding exactly them."""
    reg = _open(repo, registry=registry, offline=offline)
    result = reg.pull_report(
        ref,
        out,
        at=_at(at),
        progress=Progress(not as_json).bar,
        jobs=jobs,
        allow_unreviewed=allow_unreviewed,
        force=force,
    )
    if as_json:
        emit_json(result.to_json())
    else:
        echo(f"{result.ref} -> {result.dest} ({len(result.files)} file(s) verified)")


@app.command()
def diff(
    a: Annotated[str, typer.Argument(metavar="REF", help="First reference.")],
    b: Annotated[str, typer.Argument(metavar="REF", help="Second reference.")],
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Params, metrics, data, environment packages and artifacts of two versions."""
    d = _open(repo, registry=registry, offline=offline).diff(a, b, at=_at(at)).to_json()
    if as_json:
        emit_json(d)
        return
    echo(f"{d['a']} -> {d['b']}" + ("  (same artifacts)" if d["same_artifacts"] else ""))
    if d["metrics"]:
        print(
            "\nmetrics\n"
            + table(
                ["METRIC", d["a"], d["b"], "DELTA"],
                [
                    [
                        r["key"],
                        fmt_value(r["old"]),
                        fmt_value(r["new"]),
                        "" if r["delta"] is None else f"{r['delta']:+.6g}",
                    ]
                    for r in d["metrics"]
                ],
            )
        )
    for r in d["evaluations"]:
        print()
        echo(f"evaluations on {r['dataset']}" + ("" if r["comparable"] else f" ({r['note']})"))
        print(
            table(
                ["METRIC", d["a"], d["b"], "DELTA"],
                [
                    [
                        m["key"],
                        fmt_value(m["old"]),
                        fmt_value(m["new"]),
                        "" if m.get("delta") is None else f"{m['delta']:+.6g}",
                    ]
                    for m in r["metrics"]
                ],
            )
        )
    if d["params"]:
        print(
            "\nparams\n"
            + table(
                ["PARAM", d["a"], d["b"]],
                [[r["key"], fmt_value(r["old"]), fmt_value(r["new"])] for r in d["params"]],
            )
        )
    if d["data"]:
        print(
            "\ndata\n"
            + table(
                ["NAME", d["a"], d["b"]],
                [
                    [r["key"], (r["old"] or {}).get("uri", "-"), (r["new"] or {}).get("uri", "-")]
                    for r in d["data"]
                ],
            )
        )
    if d["environment"]:
        print(
            "\nenvironment\n"
            + table(
                ["FIELD", d["a"], d["b"]],
                [[r["key"], fmt_value(r["old"]), fmt_value(r["new"])] for r in d["environment"]],
            )
        )
    if d.get("packages_unavailable"):
        _warn(f"package lists not compared: {d['packages_unavailable']}")
    if d["packages"]:
        print(
            "\npackages\n"
            + table(
                ["PACKAGE", "CHANGE", d["a"], d["b"]],
                [[r["package"], r["change"], r["old"] or "-", r["new"] or "-"] for r in d["packages"]],
            )
        )
    if d["artifacts"]:
        print("\nartifacts\n" + table(["PATH", "CHANGE"], [[r["path"], r["change"]] for r in d["artifacts"]]))
    if not any(d[k] for k in ("metrics", "params", "data", "environment", "packages", "artifacts")):
        echo("no differences")


@app.command()
def verify(
    ref: Annotated[
        Optional[str], typer.Argument(metavar="REF", help="One version (default: every version).")
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="Delete corrupt objects, so registering their files again stores them anew."
        ),
    ] = False,
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash the stored objects the manifests reference."""
    result = _open(repo, registry=registry, offline=offline).verify(ref, repair=repair, at=_at(at))
    for digest in result.repaired:
        _warn(f"deleted corrupt object {digest}: register the files that use it again to store them anew")
    for problem in result.invalid:
        _warn(f"skipped an invalid manifest: {problem}")
    err = result.error()
    if as_json:
        payload = result.to_json()
        if err is not None:  # one JSON document on stdout, the error in it; the message still goes to stderr
            from mreg.cli._report import report

            payload["error"] = {"code": err.code, "message": err.message, "hint": err.hint}
            emit_json(payload)
            report(err, as_json=False)
            raise typer.Exit(err.exit_code)
        emit_json(payload)
    else:
        for item in result.missing:
            echo(f"MISSING  {item['digest']}  used by {', '.join(item['used_by'])}")
        for item in result.corrupt:
            echo(f"CORRUPT  {item['digest']}  used by {', '.join(item['used_by'])}")
        echo(f"verified {result.checked} object(s), {size_text(result.bytes)}")
        if result.purged:
            echo(f"{len(result.purged)} object(s) purged by retention (recorded): not checked")
    if err is not None:
        raise err


ReasonReq = Annotated[
    str, typer.Option("--reason", metavar="TEXT", help="Why (kept with the record; required).")
]


@app.command()
def archive(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The version to archive (MODEL@vN).")],
    reason: ReasonReq,
    repo: RepoOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Archive a version: it is never promoted, rolled back to or applied until it is unarchived
    (an append-only record on the registry branch; the manifest never changes)."""
    st = _open(repo).archive(ref, reason=reason)
    _render_lifecycle(st, as_json)


@app.command()
def unarchive(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The archived version (MODEL@vN).")],
    reason: ReasonReq,
    repo: RepoOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Lift an archive (another append-only record: the archive stays in the history)."""
    st = _open(repo).unarchive(ref, reason=reason)
    _render_lifecycle(st, as_json)


def _render_lifecycle(st: Any, as_json: bool) -> None:
    if as_json:
        emit_json(st.to_json())
        return
    ev = st.archive_event
    echo(f"{st.model}@v{st.version}: {st.state}" + (f" ({ev.path} by {ev.by} on {ev.at})" if ev else ""))


def _gc_retention(report: Any, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_json())
        return
    verb = "would purge" if report.dry_run else "purged"
    for m, n in report.purged:
        echo(f"{verb} the bytes of {m}@v{n}")
    kept = sum(len(vs) for vs in report.kept.values())
    echo(
        f"{verb} {len(report.purged)} version(s): {len(report.objects)} object(s), {size_text(report.freed_bytes)}; "
        f"kept {kept} version(s)"
        + (f"; finished {len(report.resumed)} interrupted purge(s)" if report.resumed else "")
    )


@app.command()
def du(
    model: Annotated[Optional[str], typer.Argument(metavar="MODEL", help="Only this model.")] = None,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Logical against stored bytes per model and version, and what retention would free."""
    report = _open(repo, offline=offline).du(model)
    if as_json:
        emit_json(report.to_json())
        return
    rows = [
        [
            f"{r.model}@v{r.version}",
            size_text(r.logical),
            size_text(r.stored),
            r.state,
            "purge" if r.would_purge else "",
        ]
        for r in report.rows
    ]
    print(table(["VERSION", "LOGICAL", "STORED", "STATE", "RETENTION"], rows))
    totals = report.to_json()["models"]
    for name, t in totals.items():
        echo(f"{name}: {size_text(t['logical'])} logical, {size_text(t['stored'])} stored")
    if report.retention:
        echo(f"gc --retention would free {size_text(report.reclaimable)}")
    else:
        echo("no retention policy in mreg.yaml: gc --retention would free nothing")


@app.command()
def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be deleted; delete nothing.")
    ] = False,
    retention: Annotated[
        bool,
        typer.Option(
            "--retention",
            help="Purge the bytes of versions outside mreg.yaml's retention policy, recording each purge.",
        ),
    ] = False,
    grace: Annotated[
        str,
        typer.Option(
            "--grace", metavar="AGE", help="Keep unreferenced objects younger than this (e.g. 24h, 7d, 0s)."
        ),
    ] = "24h",
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete store objects that no manifest references."""
    from mreg.errors import UsageError
    from mreg.refs import RELATIVE_AT_RE

    m = RELATIVE_AT_RE.match(grace)
    if not m:
        raise UsageError(f"--grace {grace!r}: expected a duration like 24h, 7d or 0s")
    seconds = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    if retention:
        _gc_retention(_open(repo, offline=offline).gc_retention(dry_run=dry_run), as_json)
        return
    result = _open(repo, offline=offline).gc(dry_run=dry_run, grace_seconds=seconds)
    for problem in result.invalid:
        _warn(f"skipped an invalid manifest (its objects, if any, count as unreferenced): {problem}")
    if as_json:
        emit_json(result.to_json())
        return
    verb = "would delete" if dry_run else "deleted"
    for d in result.deleted:
        echo(f"{verb} {d['digest']} ({size_text(d['size'])})")
    echo(
        f"{verb} {len(result.deleted)} object(s), {size_text(result.freed_bytes)}; kept {result.kept} referenced, {result.young} younger than {grace}"
        f" ({size_text(result.young_bytes)})"
    )
    if result.stale_uploads:
        echo(
            f"{'would abort' if dry_run else 'aborted'} {len(result.stale_uploads)} unfinished upload(s) older than {grace}"
        )


store_app = typer.Typer(
    help="The object store: copy every version's bytes to another store.",
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(store_app, name="store")


@store_app.command("copy")
def store_copy(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The store to copy into (s3://bucket/prefix, an absolute directory, …).",
        ),
    ],
    source: Annotated[
        Optional[str],
        typer.Option(
            "--from",
            metavar="URL",
            help="Copy from this store (default: the one the registry uses; e.g. .git/mreg/objects for the per-clone store).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be copied; copy nothing.")
    ] = False,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy every object the registry's versions need into another store (then: mreg init --store URL)."""
    result = _open(repo, offline=offline).copy_store(to, source=source, dry_run=dry_run)
    for problem in result.invalid:
        _warn(f"skipped an invalid manifest: {problem}")
    if as_json:
        emit_json(result.to_json())
        return
    verb = "would copy" if dry_run else "copied"
    echo(f"{verb} {len(result.copied)} object(s) ({size_text(result.bytes)}); {result.present} already there")
    if not dry_run:
        echo(f"next: mreg init --store {to}   (records it in mreg.yaml, a reviewed change with a remote)")


def _render_move(move: AliasMove, as_json: bool) -> None:
    if as_json:
        emit_json(move.to_json())
        return
    if move.review is not None:
        r = move.review
        to = "(removed)" if move.version is None else f"v{move.version}"
        echo(f"review requested: {move.model}@{move.alias} -> {to} on branch {r.branch}")
        for line in review_lines(r):
            echo(line)
        return
    prev = f" (was v{move.previous})" if move.previous else ""
    if move.event == "demote":
        echo(f"{move.model}@{move.alias} removed{prev} [{move.tag}]")
    else:
        echo(f"{move.model}@{move.alias} -> v{move.version}{prev} [{move.tag}]")


ReasonOpt = Annotated[
    Optional[str], typer.Option("--reason", metavar="TEXT", help="Why: recorded in the tag.")
]
SignOpt = Annotated[bool, typer.Option("--sign", help="Sign the tag with your git signing key.")]
NoReviewOpt = Annotated[
    bool, typer.Option("--no-review", help="Move a protected alias directly (recorded as unreviewed).")
]


@app.command()
def promote(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The version to promote.")],
    to: Annotated[str, typer.Option("--to", metavar="ALIAS", help="The alias to move.")],
    reason: ReasonOpt = None,
    sign: SignOpt = False,
    no_review: NoReviewOpt = False,
    at: AtOpt = None,
    repo: RepoOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Point an alias at a version (by pull request when the alias is protected)."""
    # --at resolves REF as the registry stood then (`fraud@production --at 2026-11-01`: what was live).
    _render_move(
        _open(repo).promote(ref, to, reason=reason, sign=sign, no_review=no_review, at=_at(at)), as_json
    )


@app.command()
def rollback(
    target: Annotated[str, typer.Argument(metavar="MODEL@ALIAS", help="The model and the alias to move.")],
    to: Annotated[
        Optional[str], typer.Option("--to", metavar="VERSION", help="The version to go back to (vN).")
    ] = None,
    at: AtOpt = None,
    reason: ReasonOpt = None,
    sign: SignOpt = False,
    no_review: NoReviewOpt = False,
    repo: RepoOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Put back the version the alias held before (or the one named, or the one live --at WHEN)."""
    _render_move(
        _open(repo).rollback(target, to=to, at=_at(at), reason=reason, sign=sign, no_review=no_review),
        as_json,
    )


@app.command()
def demote(
    target: Annotated[str, typer.Argument(metavar="MODEL@ALIAS", help="The model and the alias to move.")],
    reason: ReasonOpt = None,
    sign: SignOpt = False,
    no_review: NoReviewOpt = False,
    repo: RepoOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Remove an alias."""
    _render_move(_open(repo).demote(target, reason=reason, sign=sign, no_review=no_review), as_json)


@app.command()
def log(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model name.")],
    alias: Annotated[
        Optional[str], typer.Option("--alias", metavar="ALIAS", help="Only this alias's events.")
    ] = None,
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Registrations and alias events: what, who, when, why."""
    from mreg.refs import check_alias

    if alias is not None:
        check_alias(alias)
    reg = _open(repo, registry=registry, offline=offline)
    entries = [e.to_json() for e in reg.log(model, alias=alias, at=_at(at))]
    if as_json:
        emit_json(entries)
        return
    rows = []
    for e in entries:
        if e["event"] == "register":
            what = f"register v{e['version']}"
        elif e["alias"] is None:  # a lifecycle record: archive, unarchive, purging, purged
            what = f"{e['event']} v{e['version']}"
        elif e["event"] == "demote":
            what = f"demote {e['alias']}"
        else:
            what = f"{e['event']} {e['alias']} -> v{e['version']}" + (
                f" (was v{e['previous']})" if e.get("previous") else ""
            )
        sig = {"good": "signed", "bad": "BAD SIGNATURE"}.get(e.get("signature") or "", "")
        why, request = e.get("reason") or "", e.get("request") or ""
        if e.get("reviewed") is False:  # a forged or unreviewed tag: its claims are the tagger's word only
            what = f"UNREVIEWED {what}"
            why, request = (f"(claimed) {why}" if why else ""), (f"(claimed) {request}" if request else "")
        rows.append([e["at"], what, e["by"], why, request, sig])
    print(table(["WHEN", "WHAT", "WHO", "WHY", "REQUEST", "SIGNATURE"], rows))


@app.command()
def notify(
    outlet: Annotated[
        Optional[str], typer.Option("--outlet", metavar="NAME", help="Only this outlet of mreg.yaml.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send nothing, move no cursor.")
    ] = False,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Deliver registry events (registrations, evaluations, alias moves, review requests) to the
    outlets in mreg.yaml, after each outlet's cursor: at least once, in order."""
    from mreg.errors import RemoteError, UsageError

    if offline and not dry_run:
        raise UsageError(
            "notify --offline: delivering needs the remote's cursors (an offline run would send again "
            "what other runs sent)",
            hint="use --dry-run --offline to see what is pending here",
        )
    runs = _open(repo, offline=offline).notify(outlet=outlet, dry_run=dry_run)
    if as_json:
        emit_json([r.to_json() for r in runs])
    else:
        if not runs:
            echo("no outlets configured (mreg.yaml: notify.outlets)")
        for r in runs:
            if r.busy:
                echo(f"{r.outlet}: another 'mreg notify' is delivering; it sends these events")
                continue
            verb = "would deliver" if dry_run else "delivered"
            echo(
                f"{r.outlet}: {verb} {len(r.delivered)} event(s)"
                + (f", {r.skipped} filtered out" if r.skipped else "")
            )
            for line in r.summaries if dry_run else ():
                echo(f"  {line}")
            if r.failed:
                echo(f"{r.outlet}: stopped: {r.failed}")
    failed = [r.outlet for r in runs if r.failed]
    if failed:
        raise RemoteError(
            f"notify: {', '.join(failed)} failed; their cursors stay before the failed event",
            hint="run 'mreg notify' again once the outlet is back: it resumes from there",
        )
