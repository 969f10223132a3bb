"""`mreg report` (SPEC §13): the registry's dashboard. This slice writes Markdown (for a CI job
summary) and JSON; the static HTML site comes next. Rendering is `mreg.report_md`'s, which escapes
everything that came from git."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mreg.cli._base import AtOpt, OfflineOpt, RegistryOpt, RepoOpt, command_group
from mreg.cli._session import open_registry as _open
from mreg.cli._session import when as _at

app = command_group()

FORMATS = ("md", "json", "html")


@app.command()
def report(
    model: Annotated[
        Optional[list[str]],
        typer.Option("--model", metavar="MODEL", help="Only this model (repeatable; default every model)."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="md (Markdown, e.g. for $GITHUB_STEP_SUMMARY) or json; html (the static site) is not there yet.",
        ),
    ] = "md",
    output: Annotated[
        Optional[str],
        typer.Option("-o", "--output", metavar="FILE", help="Write to FILE instead of standard output."),
    ] = None,
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
) -> None:
    """The registry at a glance: an index of models, then per model its versions, alias timeline
    (UNREVIEWED moves marked), metrics over versions and evaluation results per dataset. The same
    registry state gives byte-identical output."""
    from mreg.errors import UsageError

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "html":
        raise UsageError(
            "report --format html: not yet (the static site comes in a later release)",
            hint="use --format md or --format json",
        )
    reg = _open(repo, registry=registry, offline=offline)
    result = reg.report(at=_at(at), models=model or ())
    if fmt == "json":
        import json

        text = json.dumps(result.to_json(), indent=2, sort_keys=False, default=str) + "\n"
    else:
        from mreg.report_md import render

        text = render(result)
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
