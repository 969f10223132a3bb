"""What every command shares: the option types and the root app's callback (no commands here)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli._render import echo

RepoOpt = Annotated[
    str, typer.Option("--repo", metavar="PATH", help="Repository path (default: the enclosing repo).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Do not fetch from or push to the remote.")]
RegistryOpt = Annotated[
    Optional[str],
    typer.Option("--registry", metavar="URL", help="Read a remote registry by git URL, without a clone."),
]  # typer needs Optional on 3.10
JobsOpt = Annotated[
    Optional[int],
    typer.Option(
        "--jobs",
        "-j",
        metavar="N",
        min=1,
        max=64,
        help="Transfers in flight at once (team stores; default 8).",
    ),
]
AllowUnreviewedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unreviewed",
        help="Follow a protected alias's tag even when no reviewed pin backs it (named on stderr).",
    ),
]
AtOpt = Annotated[
    Optional[str],
    typer.Option(
        "--at", metavar="WHEN", help="Answer as the registry stood then: ISO date/datetime, or 30d/12h ago."
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        from mreg._version import __version__

        echo(f"mreg {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """mreg: register, promote and pull models with git as the record."""


def make_app() -> typer.Typer:
    """The root `mreg` app: help, --version; command modules add their commands (`add_typer`)."""
    app = typer.Typer(
        name="mreg",
        help="A Git-native model registry: manifests on a git branch, bytes in content-addressed storage, aliases as append-only tags.",
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=True,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    return app


def command_group() -> typer.Typer:
    """A group of commands merged into the root app (no name of its own)."""
    return typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False, add_completion=False)
