"""The command line: the only place that imports typer, prints or exits."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from mreg.cli._errors import run
    from mreg.cli.app import app

    sys.exit(run(app, list(sys.argv[1:] if argv is None else argv)))
