"""Which manifest blob each registry commit holds for a version, remembered per clone.

Before a reader follows an alias tag, the manifest at the tag's commit must be the very blob at the
verified tip (`Context.tag_problems`, SPEC §3a.3). Git answers `<commit>:<path>` by inflating every
tree on the way, ~0.2 ms a tag: half a second for `list` at 3,000 aliases, every time. What a commit
holds at a path never changes (both are named by their content), so the answer is computed once and
kept in `<git-dir>/mreg/at-commit/<model>` as `<commit> <version> <blob id or ->` lines. Appends are
single `write`s on an O_APPEND file, so concurrent readers cannot interleave a line; a damaged line
is ignored and asked of git again. The comparison with the tip's blob is still made every time.
"""

from __future__ import annotations

import re
from pathlib import Path

from mreg.cache import append_lines

_LINE = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64}) ([1-9][0-9]{0,8}) ([0-9a-f]{40}|[0-9a-f]{64}|-)\Z")
ABSENT = "-"  # the commit holds no such version


class BlobsAtCommit:
    def __init__(self, root: Path, model: str) -> None:
        self.path = root / model

    def load(self) -> dict[tuple[str, int], str | None]:
        """(commit, version) → the manifest's blob id there, None where the commit has none."""
        try:
            text = self.path.read_text("ascii", errors="replace")
        except OSError:
            return {}
        known: dict[tuple[str, int], str | None] = {}
        for line in text.splitlines():
            m = _LINE.match(line)
            if m:
                blob = m.group(3)
                known[(m.group(1), int(m.group(2)))] = None if blob == ABSENT else blob
        return known

    def add(self, found: dict[tuple[str, int], str | None]) -> None:
        if not found:
            return
        data = "".join(f"{c} {v} {b or ABSENT}\n" for (c, v), b in found.items()).encode("ascii")
        append_lines(self.path, data)
