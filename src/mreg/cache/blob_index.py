"""A per-clone index keyed by git blob id: one JSON array a line, `["<blob id>", {entry}]`.

A blob id names its content for ever, so what was worked out from a blob once (the fields `lineage`
looks up, a manifest's checked document for `report`) holds for as long as the mreg and the schemas
that worked it out. Each index lives in a file named by a key of those (`index_key`), so an upgrade
starts afresh. Appends are single `write`s on an O_APPEND file (`cache.append_lines`): concurrent
writers never interleave a line. A line cut short (a crash mid-append, a full disk) is dropped when
the file is read, the file rewritten without it, and its blob worked out again. Lines are kept as
text and parsed when asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from mreg.cache import append_lines

Entry = dict[str, Any]


@cache
def index_key() -> str:
    """Which mreg and which schemas made the entries: another mreg reads a file of its own."""
    from mreg._version import __version__
    from mreg.manifest import EVALUATION_SCHEMA, MANIFEST_SCHEMA, schema_text

    text = "\0".join([__version__, schema_text(MANIFEST_SCHEMA), schema_text(EVALUATION_SCHEMA)])
    return "v1-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def line(oid: str, entry: Entry) -> str:
    return json.dumps([oid, entry], ensure_ascii=True, separators=(",", ":"))


def parse_line(oid: str, text: str) -> Entry | None:
    """The entry of one line, when it is a well-formed row for `oid`."""
    try:
        row = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if type(row) is not list or len(row) != 2 or row[0] != oid or type(row[1]) is not dict:
        return None
    return row[1]


class BlobIndexFile:
    """One index file: its lines by blob id, and appends."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> dict[str, str]:
        """Blob id → its line, unparsed. A damaged line is dropped and the file rewritten without it."""
        try:
            text = self.path.read_text("utf-8", errors="replace")
        except OSError:
            return {}
        lines: dict[str, str] = {}
        damaged = False
        for row in text.splitlines():
            end = row.find('"', 2)
            if row.startswith('["') and row.endswith("}]") and end in (42, 66):
                lines[row[2:end]] = row
            else:
                damaged = True
        if damaged:
            self._rewrite("".join(row + "\n" for row in lines.values()))
        return lines

    def add(self, found: dict[str, Entry]) -> None:
        if found:
            append_lines(self.path, "".join(line(oid, e) + "\n" for oid, e in found.items()).encode("ascii"))

    def _rewrite(self, text: str) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):
            tmp.write_text(text, "utf-8")
            os.replace(tmp, self.path)
