"""The boundaries of the core: what it needs from a store (SPEC §5)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

Progress = Callable[[int], None]


@dataclass(frozen=True)
class StoredObject:
    digest: str
    size: int
    mtime: float


class ObjectStore(Protocol):
    url: str
    is_local: bool

    def exists(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int | None: ...

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        """Store a file; returns (digest, size, whether bytes were written)."""
        ...

    def put_bytes(self, data: bytes, digest: str) -> bool: ...

    def open(self, digest: str) -> contextlib.AbstractContextManager[BinaryIO]: ...

    def read_verified(self, digest: str) -> bytes: ...

    def list_objects(self) -> Iterator[StoredObject]: ...

    def delete(self, digest: str) -> None: ...


@dataclass(frozen=True)
class PullRequest:
    """What mreg needs to know of a pull request on the git host."""

    number: int
    url: str  # the page people open (GitHub's html_url)
    head: str
    base: str
    state: str
    merged: bool = False
    merge_commit: str | None = None


class Forge(Protocol):
    """A git host that reviews changes to the governed branch (SPEC §7): GitHub today, others later."""

    def find_open_pull(self, head: str, base: str) -> PullRequest | None:
        """The open pull request from branch `head` into `base`, if there is one."""
        ...

    def list_pulls(self, head: str, base: str, *, state: str = "all") -> list[PullRequest]:
        """Pull requests from branch `head` into `base` in a state: open, closed or all."""
        ...

    def create_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull request; an existing one for the same head is found and updated instead."""
        ...

    def update_pull(
        self, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest: ...

    def get_pull(self, number: int) -> PullRequest: ...

    def pulls_for_commit(self, sha: str) -> list[PullRequest]:
        """Pull requests associated with a commit (how `apply` finds the PR of a merge commit)."""
        ...

    def compare_url(self, base: str, head: str) -> str: ...
