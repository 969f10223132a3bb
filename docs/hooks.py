"""MkDocs hook: the command reference is rendered from the CLI itself at build time, so it cannot drift.

`docs/reference/cli.md` holds a hand-written introduction and the marker below; on every build the
marker is replaced by one section per command and subcommand of `mreg.cli.app:app` (through
`typer.main.get_command`): its usage line, its help text and every argument and option with its help.
Everything taken from the CLI is escaped: help text is plain text, never Markdown or HTML.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MARKER = "<!-- mreg:cli-reference -->"
PAGE = "reference/cli.md"

# Python-Markdown's backslash escapes (`|` comes with the tables extension); `<`, `>` and `&` become
# entities instead, since a backslash before them would be shown.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")


def md_text(text: str) -> str:
    """Plain text as Markdown that renders as exactly that text (no markup, no HTML, no links)."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def fence(text: str) -> str:
    """A fenced block that its content cannot close, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def slug(path: list[str]) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-") for part in path)


def _click_root() -> Any:
    try:
        import typer.main

        from mreg.cli.app import app
    except ImportError:  # a checkout without `pip install -e .`: import from the src layout
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        import typer.main

        from mreg.cli.app import app
    return typer.main.get_command(app)


def _is_group(command: Any) -> bool:
    # typer may vendor click, so test for the group interface rather than `click.Group`
    return hasattr(command, "list_commands") and hasattr(command, "get_command")


def _context(command: Any, name: str, parent: Any = None) -> Any:
    return command.context_class(command, info_name=name, parent=parent, **command.context_settings)


def walk(command: Any, path: list[str], ctx: Any) -> Iterator[tuple[list[str], Any, Any]]:
    """Every visible command, depth first in the order `--help` lists them: (path, command, context)."""
    yield path, command, ctx
    if _is_group(command):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            yield from walk(sub, [*path, name], _context(sub, name, ctx))


def command_paths() -> list[list[str]]:
    """The path of every command, `["mreg"]` first (used by the docs test too)."""
    root = _click_root()
    return [path for path, _, _ in walk(root, ["mreg"], _context(root, "mreg"))]


def _rows(kind: str, records: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(text)}</td></tr>"
        for name, text in records
    )
    return f"<table><thead><tr><th>{kind}</th><th>help</th></tr></thead><tbody>{cells}</tbody></table>"


def render_command(path: list[str], command: Any, ctx: Any) -> str:
    level = "#" * min(len(path) + 1, 6)
    name = " ".join(path)
    out = [f"{level} {md_text(name)} {{#{slug(path)}}}", "", fence(command.get_usage(ctx)), ""]
    help_text = (command.help or "").strip()
    if getattr(command, "deprecated", False):
        out += ["*Deprecated.*", ""]
    for paragraph in re.split(r"\n\s*\n", help_text):
        if paragraph.strip():
            out += [md_text(" ".join(paragraph.split())), ""]
    params = [(p, p.get_help_record(ctx)) for p in command.get_params(ctx)]
    arguments = [rec for p, rec in params if rec and getattr(p, "param_type_name", "") == "argument"]
    options = [rec for p, rec in params if rec and getattr(p, "param_type_name", "") != "argument"]
    if arguments:
        out += ["**Arguments**", "", _rows("argument", arguments), ""]
    if options:
        out += ["**Options**", "", _rows("option", options), ""]
    if _is_group(command):
        subs = []
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            short = sub.get_short_help_str(limit=200)
            subs.append(f"| [`{sub_name}`](#{slug([*path, sub_name])}) | {md_text(short)} |")
        if subs:
            out += ["**Commands**", "", "| command | does |", "|---|---|", *subs, ""]
    return "\n".join(out)


def render_reference() -> str:
    root = _click_root()
    return "\n".join(render_command(p, c, x) for p, c, x in walk(root, ["mreg"], _context(root, "mreg")))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its marker {MARKER}: the command reference would be empty")
    return markdown.replace(MARKER, render_reference())
