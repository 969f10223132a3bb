"""`mreg eval add` / `mreg eval list` (SPEC §11): results obtained after registration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from mreg.cli._base import AllowUnreviewedOpt, AtOpt, JsonOpt, OfflineOpt, RegistryOpt, RepoOpt
from mreg.cli._render import echo, emit_json, fmt_value, table
from mreg.cli._session import open_registry as _open
from mreg.cli._session import when as _at

if TYPE_CHECKING:
    from mreg.results import Evaluation

app = typer.Typer(
    help="Evaluations: results of a version obtained after it was registered (held-out sets, fresh traffic, slices).",
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command("add")
def add(
    ref: Annotated[str, typer.Argument(metavar="REF", help="MODEL@vN, MODEL@ALIAS or MODEL (latest).")],
    dataset: Annotated[
        list[str],
        typer.Option(
            "--dataset",
            metavar="NAME=URI",
            help="What it was evaluated on: a local file or directory (hashed) or a store URI (fingerprinted).",
        ),
    ],
    metric: Annotated[
        Optional[list[str]],
        typer.Option("--metric", metavar="K=V", help="K=V result, a number (repeatable)."),
    ] = None,
    metrics: Annotated[
        Optional[list[str]], typer.Option("--metrics", metavar="FILE", help="YAML/JSON file of results.")
    ] = None,
    message: Annotated[
        Optional[str], typer.Option("-m", "--message", metavar="TEXT", help="What this evaluation is.")
    ] = None,
    repo: RepoOpt = ".",
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Record a result: an append-only evaluation record on the registry branch, bound to the
    version's digest and the dataset's; print its path."""
    if len(dataset) != 1:
        from mreg.errors import UsageError

        raise UsageError(
            f"--dataset given {len(dataset)} times: one evaluation is on one dataset (record each apart)"
        )
    result = _open(repo, offline=offline).evaluate(
        ref, dataset=dataset[0], metrics=metric or [], metrics_files=metrics or [], message=message
    )
    if as_json:
        emit_json(result.to_json())
        return
    echo(f"{result.ref}: evaluation {result.number} on {result.dataset['name']} ({result.path})")


@app.command("list")
def list_(
    ref: Annotated[str, typer.Argument(metavar="REF", help="MODEL@vN, MODEL@ALIAS or MODEL (latest).")],
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    allow_unreviewed: AllowUnreviewedOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The version's evaluation records, oldest first."""
    found = _open(repo, registry=registry, offline=offline).evaluations(
        ref, _at(at), allow_unreviewed=allow_unreviewed
    )
    if as_json:
        emit_json([e.to_json() for e in found])
        return
    if not found:
        echo("no evaluations")
        return
    for line in table(HEADERS, rows(found)).splitlines():
        echo(line)


HEADERS = ["#", "DATASET", "IDENTITY", "METRICS", "BY", "AT"]


def rows(found: Sequence[Evaluation]) -> list[list[str]]:
    """One table row per record (shared with `show`)."""
    return [
        [
            str(e.number),
            str(e.dataset.get("name")),
            short_identity(e.dataset_identity),
            ", ".join(f"{k}={fmt_value(v)}" for k, v in e.metrics.items()),
            e.created_by,
            e.created_at,
        ]
        for e in found
    ]


def short_identity(identity: str | None) -> str:
    if identity is None:
        return "(name only)"
    if identity.startswith("sha256:"):
        return identity[:19] + "…"
    return identity if len(identity) <= 40 else identity[:39] + "…"
