"""`mreg report` (SPEC §13): the registry's dashboard — a static site (`mreg.report_html`), Markdown
for a CI job summary (`mreg.report_md`) or JSON (the API's `Report`). The renderers escape
everything that came from git."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mreg.cli._base import AtOpt, OfflineOpt, RegistryOpt, RepoOpt, command_group
from mreg.cli._session import open_registry as _open
from mreg.cli._session import when as _at

app = command_group()

FORMATS = ("md", "json", "html")
FILE_SUFFIXES = (".html", ".htm", ".txt", ".pdf", ".png", ".svg")  # -o names a file: not a site
STEP_SUMMARY_LIMIT = 1024 * 1024  # what GitHub keeps of a step's $GITHUB_STEP_SUMMARY


@app.command()
def report(
    model: Annotated[
        Optional[list[str]],
        typer.Option("--model", metavar="MODEL", help="Only this model (repeatable; default every model)."),
    ] = None,
    fmt: Annotated[
        Optional[str],
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="html (a static site: -o DIR), md (Markdown, e.g. for $GITHUB_STEP_SUMMARY) or json. "
            "Default: from -o (FILE.md, FILE.json, else a site directory); md on standard output.",
        ),
    ] = None,
    output: Annotated[
        Optional[str],
        typer.Option(
            "-o", "--output", metavar="PATH", help="The site's directory (html), or a file (md, json)."
        ),
    ] = None,
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
) -> None:
    """The registry at a glance: an index of models, then per model its versions, metrics over
    versions (charts, production periods shaded), evaluations per dataset, the alias timeline
    (UNREVIEWED moves marked), lineage, files and the audit trail. The same registry state gives
    byte-identical output."""
    from mreg.errors import UsageError

    fmt = fmt or _format_of(output)
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "html" and (output is None or Path(output).suffix.lower() in FILE_SUFFIXES):
        raise UsageError(
            "report --format html writes a site, a directory: name it with -o DIR",
            hint="e.g. -o site/ (then open site/index.html); --format md or json write one file",
        )
    if fmt != "html" and output is not None and (output.endswith(("/", os.sep)) or Path(output).is_dir()):
        raise UsageError(f"-o {output}: --format {fmt} writes one file; name the file, not a directory")
    reg = _open(repo, registry=registry, offline=offline)
    result = reg.report(at=_at(at), models=model or ())
    if fmt == "html":
        from mreg.ops.report import write_site
        from mreg.report_html import render_site
        from mreg.text import size_text, term

        assert output is not None
        pages = render_site(result)
        write_site(pages, Path(output))
        size = sum(len(p) for p in pages.values())
        typer.echo(
            f"wrote {term(output)}: {len(pages)} pages, {size_text(size)}; open {term(Path(output) / 'index.html')}"
        )
        return
    if fmt == "json":
        import json

        text = json.dumps(result.to_json(), indent=2, sort_keys=False, default=str) + "\n"
    else:
        from mreg.report_md import render

        text = render(result)
        if len(text.encode()) > STEP_SUMMARY_LIMIT:
            from mreg.cli._session import warn

            warn(
                f"the Markdown is {len(text.encode()) / 2**20:.1f} MiB, over the 1 MiB a GitHub job summary "
                "holds: name fewer models (--model), or publish the site (-o DIR)"
            )
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def _format_of(output: str | None) -> str:
    if output is None:
        return "md"
    suffix = Path(output).suffix.lower()
    return {".md": "md", ".markdown": "md", ".json": "json"}.get(suffix, "html")
