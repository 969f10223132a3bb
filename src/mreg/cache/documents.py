"""Checked manifests by git blob id, per clone: `<git-dir>/mreg/documents/<key>` (`cache.blob_index`).

`report` shows nearly every field of every manifest: 10,000 of them in a big registry. Reading a
known one through the validation memo (`cache.valid`) still costs a marker file each; this index
holds the document each manifest blob parsed to, once it passed this mreg's checks, so the whole
registry is one file read. Only documents that passed are kept; what a blob's path says (model,
version) is compared with the document on every read, never taken from here.
"""

from __future__ import annotations

from pathlib import Path

from mreg.cache.blob_index import BlobIndexFile, Entry, index_key, parse_line


class DocumentIndex:
    def __init__(self, root: Path) -> None:
        self.file = BlobIndexFile(root / index_key())

    def load(self) -> dict[str, Entry]:
        """Blob id → its checked document, for every line that parses."""
        lines = self.file.lines()
        out: dict[str, Entry] = {}
        for oid, text in lines.items():
            doc = parse_line(oid, text)
            if doc is not None:
                out[oid] = doc
        return out

    def add(self, found: dict[str, Entry]) -> None:
        self.file.add(found)
