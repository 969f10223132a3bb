"""GitHub Actions integration (SPEC §9): $GITHUB_OUTPUT, step summaries, ::error annotations."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping


def under_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def write_outputs(values: Mapping[str, object]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not under_actions() or not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        for key, value in values.items():
            text = "" if value is None else str(value)
            if "\n" in text:
                marker = f"mreg_{uuid.uuid4().hex}"
                f.write(f"{key}<<{marker}\n{text}\n{marker}\n")
            else:
                f.write(f"{key}={text}\n")


def write_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if under_actions() and path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(markdown.rstrip() + "\n")


def annotate_error(message: str, *, file: str | None = None, line: int | None = None) -> str:
    """The `::error` workflow command, with GitHub's escaping of data and properties."""
    from mreg.text import term

    def esc(s: str) -> str:  # control characters, bidi and nested commands shown escaped first
        return term(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    props = []
    if file:
        props.append("file=" + esc(file).replace(":", "%3A").replace(",", "%2C"))
    if line:
        props.append(f"line={line}")
    return f"::error {','.join(props)}::{esc(message)}" if props else f"::error::{esc(message)}"
