"""`mreg lineage` (SPEC §11): a version's parents, what was fine-tuned from it, who used some data.

Everything shown comes from git (manifests, records, tags written by anyone with push rights): it
goes through `echo`/`table`, which escape it, and long lists are cut to `SHOWN` lines per version.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from mreg.cli._base import AllowUnreviewedOpt, AtOpt, JsonOpt, OfflineOpt, RegistryOpt, RepoOpt, command_group
from mreg.cli._render import echo, emit_json, fmt_value, table
from mreg.cli._session import open_registry as _open
from mreg.cli._session import warn as _warn
from mreg.cli._session import when as _at

if TYPE_CHECKING:
    from mreg.results import Evaluation, Lineage, LineageNode

app = command_group()

FORMATS = ("text", "json", "openlineage")
SHOWN = 20  # data refs and evaluations listed per version in text (all of them in --json)


@app.command()
def lineage(
    ref: Annotated[
        Optional[str],
        typer.Argument(
            metavar="REF",
            help="MODEL@vN, MODEL@ALIAS or MODEL (latest); with --down also an external URI (hf://org/model).",
        ),
    ] = None,
    down: Annotated[
        bool, typer.Option("--down", help="The versions fine-tuned from REF, transitively, across models.")
    ] = False,
    dataset: Annotated[
        Optional[str],
        typer.Option(
            "--dataset",
            metavar="URI_OR_DIGEST",
            help="Instead of REF: every version that trained or was evaluated on these data (a URI, a local "
            "path, a sha256: digest or a dataset identity), and every alias that ever pointed at one.",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="text (a tree, the default), json (as --json) or openlineage (one OpenLineage run event a line).",
        ),
    ] = "text",
    repo: RepoOpt = ".",
    registry: RegistryOpt = None,
    offline: OfflineOpt = False,
    at: AtOpt = None,
    allow_unreviewed: AllowUnreviewedOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Where a version came from: its parent chain across models, each with its data, source commit,
    environment and evaluations; --down what was fine-tuned from it; --dataset who used some data."""
    from mreg.errors import UsageError

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if as_json and fmt == "openlineage":
        raise UsageError("--json and --format openlineage: choose one")
    result = _open(repo, registry=registry, offline=offline).lineage(
        ref, down=down, dataset=dataset, at=_at(at), allow_unreviewed=allow_unreviewed
    )
    if as_json or fmt == "json":
        emit_json(result.to_json())
    elif fmt == "openlineage":
        from mreg.openlineage import run_events

        for event in run_events(result):  # JSON Lines: what OpenLineage's file transport writes
            sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    elif result.direction == "up":
        _up(result)
    elif result.direction == "down":
        _down(result)
    else:
        _dataset(result)
    for problem in result.problems:
        _warn(problem)


def _short(digest: object) -> str:
    text = str(digest or "")
    return text[:19] + "…" if text.startswith("sha256:") and len(text) > 19 else text


def _head(n: LineageNode) -> str:
    if n.external:
        return f"{n.ref}  (external: not followed)"
    if n.problem is not None:
        return f"{n.ref}  ({n.problem})"
    who = f"  {n.created_by}" if n.created_by else ""
    return f"{n.ref}  {_short(n.digest)}  {n.created_at or ''}{who}"


def _data(d: Mapping[str, Any]) -> str:
    extra = _short(d.get("digest")) or (f"etag {d['etag']}" if d.get("etag") else "")
    if not extra and d.get("version"):
        extra = f"version {d['version']}"
    return f"{d.get('name')} = {d.get('uri')}" + (f"  {extra}" if extra else "")


def _named(d: Mapping[str, Any]) -> str:
    """A data ref by its name and what identifies its bytes (the URI is the dataset asked about)."""
    ident = _short(d.get("digest")) or (f"etag {d['etag']}" if d.get("etag") else "")
    return f"{d.get('name')}" + (f" {ident}" if ident else "")


def _evaluation(e: Evaluation) -> str:
    figures = ", ".join(f"{k}={fmt_value(v)}" for k, v in list(e.metrics.items())[:SHOWN])
    return f"#{e.number} {_data(e.dataset)}: {figures}  ({e.created_by}, {e.created_at})"


def _capped(label: str, items: Sequence[str]) -> list[str]:
    lines = [f"{label:<12} {item}" for item in items[:SHOWN]]
    if len(items) > SHOWN:
        lines.append(f"{'':<12} … {len(items) - SHOWN} more (--json lists them all)")
    return lines


def _details(n: LineageNode) -> list[str]:
    if n.external or n.problem is not None:
        return []
    lines = []
    src = n.source or {}
    if src.get("commit") or src.get("repository"):
        dirty = " (dirty)" if src.get("dirty") else ""
        lines.append(
            f"{'source':<12} {src.get('repository') or '(no remote)'} @ {str(src.get('commit') or '?')[:12]}{dirty}"
        )
    env = n.environment
    if env:
        text = f"{env.get('python')} on {env.get('platform')}, packages {_short(env.get('packages'))}"
        if env.get("image"):
            text += f", image {env['image']}"
        lines.append(f"{'environment':<12} {text}")
    lines += _capped("data", [_data(d) for d in n.data])
    lines += _capped("evaluation", [_evaluation(e) for e in n.evaluations or ()])
    return lines


def _up(result: Lineage) -> None:
    for n in result.nodes:
        pad = "   " * max(n.depth - 1, 0)
        echo(f"{pad}└─ {_head(n)}" if n.depth else _head(n))
        for line in _details(n):
            echo(f"{'   ' * n.depth}   {line}")


def _down(result: Lineage) -> None:
    root, *rest = result.nodes
    echo(_head(root))
    children: dict[str | None, list[LineageNode]] = {}
    for n in rest:
        children.setdefault(n.parent, []).append(n)

    def walk(ref: str, prefix: str) -> None:
        kids = children.get(ref, [])
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            echo(f"{prefix}{'└─ ' if last else '├─ '}{_head(kid)}")
            walk(kid.ref, prefix + ("   " if last else "│  "))

    walk(root.ref, "")
    if not rest:
        echo("(nothing names it as parent)")


def _dataset(result: Lineage) -> None:
    nodes, aliases = result.nodes, result.aliases
    echo(f"dataset {result.dataset}: {len(nodes)} version(s), {len(aliases)} alias tag(s)")
    if not nodes:
        return
    rows = []
    for n in nodes:
        how = [f"trained ({_named(d)})" for d in n.data[:3]]
        for e in (n.evaluations or ())[:3]:
            figures = ", ".join(f"{k}={fmt_value(v)}" for k, v in list(e.metrics.items())[:5])
            how.append(f"evaluated #{e.number} ({_named(e.dataset)}): {figures}")
        rows.append([n.ref, "; ".join(how), n.created_at, n.created_by])
    echo()
    for line in table(["VERSION", "USED", "CREATED", "BY"], rows).splitlines():
        echo(line)
    if not aliases:
        return
    echo()
    echo("aliases that pointed at them")
    alias_rows = [
        [
            ("" if a.reviewed else "UNREVIEWED ") + f"{a.model}@{a.alias}",
            f"v{a.version}",
            a.at,
            "now" if a.current else (a.until or ""),
            a.by,
            a.tag,
        ]
        for a in aliases
    ]
    for line in table(["ALIAS", "VERSION", "FROM", "UNTIL", "BY", "TAG"], alias_rows).splitlines():
        echo(line)
    if not all(a.reviewed for a in aliases):
        _warn(
            "tags marked UNREVIEWED were not backed by a reviewed pin on mreg/aliases (or are refused by "
            "readers): what they say is the tagger's word only"
        )
