"""Showing text that came from git or from users: terminal, Markdown, HTML (pure; no I/O).

Anything read from a registry — tag names, records, file names, commit subjects, manifest values —
is hostile input. Each place that shows it escapes it for that place: a reason cannot move the
cursor and overwrite a `log` row, a path cannot start a `::workflow-command::` line, a PR body
cannot hide the gate table behind `<!--`.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata

# Bidirectional overrides and isolates reorder what a terminal or a browser shows ("Trojan Source").
# Characters that show nothing, or not themselves: controls (Cc), format characters (Cf: zero-width
# spaces and joiners, word joiners, byte-order marks, tag characters, bidi controls), surrogates,
# private use, line and paragraph separators. Shown escaped, so what a reader sees is what is there.
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~!$])")  # `$`: GitHub renders $…$ as math


def _escape(c: str) -> str:
    return c.encode("unicode_escape").decode("ascii")


def visible(text: object) -> str:
    """One line whose every character shows: control characters (C0, DEL, C1, line/paragraph
    separators, tabs) and bidi controls escaped (`\\x1b`, `\\n`, `\\u202e`). The same wherever it
    runs (a page rendered in CI is byte-identical to one rendered on a laptop)."""
    s = str(text)
    if not (s.isascii() and s.isprintable()):
        s = "".join(_escape(c) if c in _BIDI or unicodedata.category(c) in _HIDDEN else c for c in s)
    return s


def page(text: object) -> str:
    """Text inside an HTML page (element content or a quoted attribute value): every character
    shows (`visible`), and `<`, `>`, `&` and both quotes are entities, so no value becomes markup."""
    s = text if type(text) is str else str(text)
    if _PLAIN.fullmatch(s):  # most values (names, dates, numbers): nothing to escape
        return s
    return html.escape(visible(s), quote=True)


_PLAIN = re.compile(r"[ !#-%(-;=?-~]*")  # printable ASCII but for " & ' < >


def term(text: object) -> str:
    """One line for a terminal: control characters (C0, DEL, C1, line/paragraph separators, tabs)
    and bidi controls shown escaped (`\\x1b`, `\\n`, `\\u202e`). Under GitHub Actions the runner
    also reads `::command::` (after leading blanks) and the legacy `##[command]` anywhere in a line:
    both are shown escaped there, so no value can become a workflow command."""
    s = visible(text)
    if ("::" in s or "##[" in s) and os.environ.get("GITHUB_ACTIONS") == "true":
        s = s.replace("::", ":\\x3a").replace("##[", "#\\x23[")
    return s


_NO_MENTION = {ord("@"): "&#64;", ord("#"): "&#35;"}


def md(text: object) -> str:
    """Plain text inside Markdown (GitHub flavour: PR bodies, step summaries, table cells): no HTML,
    no comment, no link, image, emphasis, table break or @-mention, and one line."""
    s = html.escape(term(text), quote=False)  # no tag, no comment: `<!--` cannot hide what follows
    s = _MD_SPECIAL.sub(r"\\\1", s)  # no emphasis, code span, link, image or table break
    s = s.translate(_NO_MENTION)  # no @-mention or team ping, no #123 cross-reference (one pass: the
    # `#` of an `&#64;` written for an `@` must stay as it is)
    return re.sub(
        r"(?i)(://|www\.)", lambda m: m.group(1).replace(":", "&#58;").replace(".", "&#46;"), s
    )  # no autolink


def md_code(text: object) -> str:
    """A value shown as code inside Markdown, safe in a table cell."""
    return "<code>" + md(text) + "</code>"


def size_text(n: int) -> str:
    """A number of bytes for people: `512 B`, `1.5 KiB`, `100.0 MiB` (binary units)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def clip(text: object, limit: int) -> str:
    """At most `limit` characters of a value, and how many were left out: a report shows a 1 MB
    message from git as its first few hundred characters, not whole."""
    s = str(text)
    return s if len(s) <= limit else f"{s[:limit]}… ({len(s) - limit:,} more characters)"
