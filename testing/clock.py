"""A pinned git clock: tests advance it instead of sleeping."""

from __future__ import annotations

import os


class Clock:
    """Pins git's author and committer dates; tests advance it instead of sleeping."""

    def __init__(self, start: int = 1_767_225_600) -> None:  # 2026-01-01T00:00:00Z
        self.now = start
        self._apply()

    def _apply(self) -> None:
        stamp = f"{self.now} +0000"
        os.environ["GIT_AUTHOR_DATE"] = stamp
        os.environ["GIT_COMMITTER_DATE"] = stamp

    def advance(self, seconds: int = 60) -> int:
        self.now += seconds
        self._apply()
        return self.now
