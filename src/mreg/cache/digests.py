"""Which artifact-set digest each manifest blob holds, remembered per clone.

`register` warns when a new version repeats an existing one's artifacts. Reading every manifest of
the model for that costs ~0.3 ms a version (30-50 ms at 100 versions, growing with each one); a git
blob id names its content for ever, so the answer for a blob is computed once and kept in
`<git-dir>/mreg/digests/<model>` as `<blob id> <digest>` lines. Appends are single `write`s on an
O_APPEND file, so concurrent registers cannot interleave a line; a damaged line is ignored and
recomputed. The index only feeds the warning: it never decides what is stored or served.
"""

from __future__ import annotations

import re
from pathlib import Path

from mreg.cache import append_lines
from mreg.digest import DIGEST_PATTERN

_LINE = re.compile(rf"^([0-9a-f]{{40}}|[0-9a-f]{{64}}) ({DIGEST_PATTERN}|-)\Z")
NO_DIGEST = "-"  # a blob without a digest line (cannot match any digest)


class DigestIndex:
    def __init__(self, root: Path, model: str) -> None:
        self.path = root / model

    def load(self) -> dict[str, str]:
        try:
            text = self.path.read_text("ascii", errors="replace")
        except OSError:
            return {}
        known: dict[str, str] = {}
        for line in text.splitlines():
            m = _LINE.match(line)
            if m:
                known[m.group(1)] = m.group(2)
        return known

    def add(self, found: dict[str, str]) -> None:
        if not found:
            return
        data = "".join(f"{oid} {digest}\n" for oid, digest in found.items()).encode("ascii")
        append_lines(self.path, data)
