"""The one error funnel: MregError → one or two lines on stderr and its SPEC §8 exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from mreg.cli._report import debug, one_line, report_unexpected

try:  # typer ≥ 0.26 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions  # type: ignore[no-redef]


def run(app: Callable[..., Any], argv: list[str]) -> int:
    as_json = "--json" in argv
    try:
        rv = app(args=argv, prog_name="mreg", standalone_mode=False)
        if rv == 130:  # typer turns Ctrl-C into Exit(130) and, outside standalone mode, returns it
            print(
                "mreg: interrupted; nothing was half-written (a write lands whole or not at all)",
                file=sys.stderr,
            )
        return rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        if exc.exit_code == 130:  # click turns Ctrl-C into Exit(130) before mreg sees it
            print(
                "mreg: interrupted; nothing was half-written (a write lands whole or not at all)",
                file=sys.stderr,
            )
        return int(exc.exit_code)
    except typer.Abort:
        print("mreg: interrupted", file=sys.stderr)
        return 130
    except click_exceptions.ClickException as exc:
        if debug():
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `mreg`: the help is the answer
            exc.show(file=sys.stderr)
            return 2
        # One line and a hint, like every other error (SPEC §8), not click's four-line usage block.
        if as_json:
            import json

            print(json.dumps({"error": {"code": "bad_input", "message": exc.format_message(), "hint": None}}))
        print(f"mreg: error: {one_line(exc.format_message())}", file=sys.stderr)
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, click_exceptions.UsageError):
            print(f"  hint: run '{ctx.command_path if ctx else 'mreg'} --help' for usage", file=sys.stderr)
            return 2
        return int(exc.exit_code or 2)
    except (Exception, KeyboardInterrupt) as exc:
        return report_unexpected(exc, as_json=as_json)
