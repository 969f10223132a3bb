"""The one error funnel: MregError → one or two lines on stderr and its SPEC §8 exit code."""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Callable
from typing import Any

import typer

from mreg.errors import MregError

try:  # typer ≥ 0.26 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions  # type: ignore[no-redef]


def _debug() -> bool:
    return os.environ.get("MREG_DEBUG", "") not in ("", "0")


def one_line(text: str) -> str:
    """Control characters from user input (a newline, a CR, an ANSI escape in a name) are shown escaped:
    an error stays one line that a script can parse and a terminal cannot be steered by."""
    return "".join(c.encode("unicode_escape").decode("ascii") if c != "\t" and unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


def report(exc: MregError, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message, "hint": exc.hint}}), file=sys.stdout)
    print(f"mreg: error: {one_line(exc.message)}", file=sys.stderr)
    if exc.hint:
        print(f"  hint: {one_line(exc.hint)}", file=sys.stderr)


def run(app: Callable[..., Any], argv: list[str]) -> int:
    as_json = "--json" in argv
    try:
        rv = app(args=argv, prog_name="mreg", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except MregError as exc:
        if _debug():
            raise
        report(exc, as_json=as_json)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("mreg: interrupted", file=sys.stderr)
        return 130
    except click_exceptions.ClickException as exc:
        if _debug():
            raise
        exc.show(file=sys.stderr)
        return 2 if isinstance(exc, click_exceptions.UsageError) else int(exc.exit_code or 2)
    except KeyboardInterrupt:
        print("mreg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if _debug():
            raise
        print(f"mreg: internal error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        print("  hint: this is a bug in mreg; rerun with MREG_DEBUG=1 for the traceback and report it", file=sys.stderr)
        return 70
