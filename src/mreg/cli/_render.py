"""Human tables and --json: two renderings of one result."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mreg.text import size_text, term

if TYPE_CHECKING:
    from mreg.results import Review


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def echo(line: object = "") -> None:
    """Print one line of human output; anything in it from git or users is shown escaped (mreg.text.term)."""
    print(term(line))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[term(h) for h in headers]] + [["" if c is None else term(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return "-"
    return str(v)


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal and output is not JSON."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()

    def bar(self, label: str, total: int) -> Any:
        if not self.enabled or total < 64 * 1024 * 1024:
            return None
        import threading

        done = [0]
        lock = threading.Lock()  # files are stored and pulled several at once, all into this one bar

        def update(n: int) -> None:
            with lock:
                done[0] += n
                pct = 100 * done[0] // max(total, 1)
                sys.stderr.write(f"\r{label[:40]:40} {pct:3d}% {size_text(done[0])}/{size_text(total)}")
                if done[0] >= total:
                    sys.stderr.write("\n")
                sys.stderr.flush()

        return update


def review_lines(r: Review) -> list[str]:
    """Where a proposal went (promotion or policy): the pull request, the compare URL, or what to do next."""
    if r.url:
        return [f"{'updated pull request #' + str(r.number) if r.updated else 'pull request'}: {r.url}"]
    if r.compare_url:
        return [f"open a pull request: {r.compare_url}"]
    return [
        f"next: open a merge request from branch {r.branch} into mreg/aliases; once it is merged, "
        "run 'mreg apply' (or let CI run it)"
    ]
