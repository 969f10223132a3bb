"""What `lineage` needs of each manifest and evaluation record blob, remembered per clone.

`lineage --down` and `--dataset` are reverse look-ups: which versions name this one as parent,
which trained or were evaluated on these data. Answering them reads every manifest of the registry
(10,000 in a big one, ~0.5 ms each to parse and check). A git blob id names its content for ever, so
the few fields a look-up needs are extracted once per blob and kept in
`<git-dir>/mreg/lineage/<key>` as one JSON array a line, `["<blob id>", {fields}]`:

- a manifest: `{"k": "m", "m": model, "v": version, "d": digest, "p": parent, "t": created_at,
  "b": created_by, "data": [data refs]}`;
- an evaluation record: `{"k": "e", "m": model, "v": version, "vd": version digest, "ds": dataset}`;
- a blob that failed its checks: `{"k": "x", "why": message}`.

Only blobs that passed the schema checks of this mreg are recorded with their fields, and `<key>`
changes with mreg's version and its manifest and evaluation schemas, so an upgrade starts afresh.
What the path of a blob says (model, version) is compared with the fields on every read, never
taken from here. Appends are single `write`s on an O_APPEND file, so concurrent readers cannot
interleave a line; a line cut short is dropped (the file is rewritten without it) and recomputed.
Lines are parsed when an entry is asked for: `--dataset` parses only the lines that contain the
dataset's URI or digest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mreg.cache.blob_index import BlobIndexFile, Entry, index_key, line, parse_line


class Entries:
    """Index entries by blob id, each line parsed when its entry is first asked for: a look-up that
    needs a few (the versions that name one dataset: the lines that contain its URI or digest) parses
    only those, one that needs them all (`parse_all`) parses the file in one go."""

    def __init__(self, lines: dict[str, str]) -> None:
        self._lines = lines
        self._parsed: dict[str, Entry] = {}

    def __contains__(self, oid: object) -> bool:
        return oid in self._lines

    def get(self, oid: str) -> Entry | None:
        """The entry of a blob; None when the index has none (or only a line that does not parse)."""
        entry = self._parsed.get(oid)
        if entry is None and oid in self._lines:
            entry = _entry(oid, self._lines[oid])
            if entry is not None:
                self._parsed[oid] = entry
        return entry

    def containing(self, needle: str, *, raw: bool = False) -> set[str]:
        """The blob ids whose line holds `needle` as JSON writes it (any entry with a field that holds
        it), or `raw`, as given (a piece of JSON)."""
        text = needle if raw else json.dumps(needle, ensure_ascii=True)[1:-1]
        return {oid for oid, line in self._lines.items() if text in line}

    def parse_all(self) -> None:
        unparsed = [line for oid, line in self._lines.items() if oid not in self._parsed]
        try:
            rows = json.loads("[" + ",".join(unparsed) + "]")
        except ValueError:
            rows = None
        if type(rows) is list:
            self._parsed.update((row[0], row[1]) for row in rows if _good(row))
        else:  # a line that does not parse: each on its own
            for oid in self._lines:
                self.get(oid)

    def all(self) -> dict[str, Entry]:
        """Every entry that parses, by blob id."""
        self.parse_all()
        return {oid: self._parsed[oid] for oid in self._lines if oid in self._parsed}

    def add(self, found: dict[str, Entry]) -> None:
        for oid, entry in found.items():
            self._lines[oid] = line(oid, entry)
            self._parsed[oid] = entry


class LineageIndex:
    def __init__(self, root: Path) -> None:
        self.file = BlobIndexFile(root / index_key())
        self.path = self.file.path

    def load(self) -> Entries:
        """Blob id → its entry, parsed on demand (a damaged line is dropped: `BlobIndexFile`)."""
        return Entries(self.file.lines())

    def add(self, found: dict[str, Entry]) -> None:
        self.file.add(found)


def _entry(oid: str, text: str) -> Entry | None:
    entry = parse_line(oid, text)
    return entry if entry is not None and _good([oid, entry]) else None


def _good(row: Any) -> bool:
    """A row of the shape `add` writes (a hand-edited or damaged one is ignored, and its blob read
    again; a malformed blob id is harmless: no path ever names it)."""
    if type(row) is not list or len(row) != 2 or type(row[0]) is not str or type(row[1]) is not dict:
        return False
    e = row[1]
    kind = e.get("k")
    if kind == "x":
        return type(e.get("why")) is str
    if type(e.get("m")) is not str or type(e.get("v")) is not int:
        return False
    if kind == "m":
        return (
            type(e.get("d")) is str
            and type(e.get("p")) in (str, type(None))
            and type(e.get("data")) is list
            and all(type(d) is dict for d in e["data"])
        )
    return kind == "e" and type(e.get("vd")) is str and type(e.get("ds")) is dict
