"""`mreg import mlflow` / `mreg import gto` (SPEC §14): bring an existing registry over."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from mreg.cli._base import JsonOpt, OfflineOpt, RepoOpt
from mreg.cli._render import Progress, echo, emit_json, review_lines, table
from mreg.cli._session import open_registry as _open
from mreg.text import size_text

if TYPE_CHECKING:
    from mreg.results import ImportReport

app = typer.Typer(
    help="Bring an existing registry over: MLflow's model registry or a GTO repository (SPEC §14).",
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan; import nothing.")]
AllowSecretOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--allow-secret-like",
        metavar="KEY",
        help="Import params with this secret-looking name anyway (repeatable; a URL with credentials never).",
    ),
]
NoReviewOpt = Annotated[
    bool,
    typer.Option(
        "--no-review",
        help="Pin protected aliases directly, marked unreviewed (a registry without a remote, or allow_unreviewed: true).",
    ),
]


@app.command("mlflow")
def mlflow(
    tracking_uri: Annotated[
        str,
        typer.Option(
            "--tracking-uri", metavar="URI", help="MLflow tracking (and registry) URI: sqlite:///…, http://…"
        ),
    ],
    model: Annotated[
        Optional[list[str]],
        typer.Option("--model", metavar="NAME", help="Import only this registered model (repeatable)."),
    ] = None,
    dry_run: DryRunOpt = False,
    no_review: NoReviewOpt = False,
    allow_secret_like: AllowSecretOpt = None,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import MLflow's registered models through MLflow's client (pip install 'mreg[mlflow]'):
    version numbers kept, artifacts re-hashed into the store, the run's params, metrics, source and
    datasets in the manifest, aliases and stages as alias tags. Exit 1 lists what could not be imported."""
    reg = _open(repo, offline=offline)
    report = reg.import_mlflow(
        tracking_uri,
        models=model or [],
        dry_run=dry_run,
        no_review=no_review,
        allow_secret_like=allow_secret_like or [],
        on_version=None if as_json else _announce,
        progress=Progress(not as_json).bar,
    )
    _render(report, as_json)


@app.command("gto")
def gto(
    source: Annotated[
        Optional[str],
        typer.Option(
            "--from",
            metavar="PATH",
            help="The GTO repository, when it is not the registry's own (default: --repo, where GTO keeps its tags).",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    no_review: NoReviewOpt = False,
    allow_secret_like: AllowSecretOpt = None,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a GTO registry: each artifact's versions (numbered in semver order, the semver kept in
    labels) with the files at their commits, and the full stage history of its tags, in order, with
    the original taggers and times. Exit 1 lists what could not be imported."""
    reg = _open(repo, offline=offline)
    report = reg.import_gto(
        source if source is not None else repo,
        dry_run=dry_run,
        no_review=no_review,
        allow_secret_like=allow_secret_like or [],
        on_version=None if as_json else _announce,
        progress=Progress(not as_json).bar,
    )
    _render(report, as_json)


def _announce(n: int, total: int, ref: str) -> None:
    """Progress on a terminal: the version being imported."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r[{n}/{total}] importing {ref}\033[K")
        if n == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


HEADERS = ["MODEL", "VERSIONS ADDED", "VERSIONS THERE", "NOT IMPORTED", "MOVES ADDED", "MOVES THERE", "PINS"]


def _render(report: ImportReport, as_json: bool) -> None:
    from mreg.errors import CheckFailedError

    if as_json:
        emit_json(report.to_json())
    else:
        if report.dry_run:
            echo(f"plan ({report.system}, nothing imported):")
            for line in report.plan or ["nothing to import"]:
                echo(f"  {line}")
        rows = [
            [
                r.model,
                r.versions_added,
                r.versions_present,
                r.versions_failed,
                r.moves_added,
                r.moves_present,
                r.pins,
            ]
            for r in report.rows
        ]
        for line in table(HEADERS, rows).splitlines():
            echo(line)
        if not report.dry_run:
            echo(f"uploaded {size_text(report.uploaded_bytes)}, reused {size_text(report.reused_bytes)}")
        if report.review is not None:
            echo(f"protected aliases proposed for review on branch {report.review.branch}")
            for line in review_lines(report.review):
                echo(line)
        if report.pinned_in is not None:
            echo(f"protected aliases pinned unreviewed in {report.pinned_in[:12]}")
    if report.failures:
        for line in report.failures:
            _echo_err(line)
        raise CheckFailedError(f"{len(report.failures)} item(s) could not be imported (listed above)")


def _echo_err(line: str) -> None:
    from mreg.text import term

    print(f"not imported: {term(line)}", file=sys.stderr)
