"""Reporting an error without typer: shared by the error funnel and the `resolve` fast path."""

from __future__ import annotations

import json
import os
import sys

from mreg.errors import MregError


def debug() -> bool:
    return os.environ.get("MREG_DEBUG", "") not in ("", "0")


def one_line(text: str) -> str:
    """Control characters and bidi overrides from user input or a registry are shown escaped: an error
    stays one line that a script can parse and a terminal cannot be steered by (mreg.text.term)."""
    from mreg.text import term

    return term(text)


def report(exc: MregError, *, as_json: bool) -> None:
    """The error on stderr; under --json also as a JSON object on stdout — except after a check or a
    gate whose JSON report (`"ok": false`) is already there: stdout stays one JSON document."""
    from mreg.errors import CheckFailedError

    if as_json and not isinstance(exc, CheckFailedError):
        print(
            json.dumps({"error": {"code": exc.code, "message": exc.message, "hint": exc.hint}}),
            file=sys.stdout,
        )
    print(f"mreg: error: {one_line(exc.message)}", file=sys.stderr)
    if exc.hint:
        print(f"  hint: {one_line(exc.hint)}", file=sys.stderr)


def report_unexpected(exc: BaseException, *, as_json: bool) -> int:
    """Everything that is not a click usage error, mapped to its SPEC §8 exit code."""
    if isinstance(exc, MregError):
        if debug():
            raise exc
        report(exc, as_json=as_json)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        print("mreg: interrupted", file=sys.stderr)
        return 130
    if isinstance(exc, BrokenPipeError):
        return 0
    if debug():
        raise exc
    print(f"mreg: internal error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
    print(
        "  hint: this is a bug in mreg; rerun with MREG_DEBUG=1 for the traceback and report it",
        file=sys.stderr,
    )
    return 70
