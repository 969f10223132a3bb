"""The boundaries of the core: what it needs from a store (SPEC §5)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

Progress = Callable[[int], None]


@dataclass(frozen=True)
class StoredObject:
    digest: str
    size: int
    mtime: float


@dataclass(frozen=True)
class StaleUpload:
    """Bytes an interrupted upload left behind: a temp key (non-atomic backends) or an unfinished S3
    multipart upload (`upload_id`). `gc` removes them once they are older than its grace period."""

    key: str
    upload_id: str | None = None
    size: int = 0


class ObjectStore(Protocol):
    """Everything mreg needs of a store (SPEC §5). Every adapter implements all of it; a capability a
    backend lacks has a simple default there (a local directory has no multipart uploads to clean up,
    deletes one file at a time, moves bytes one file at a time), so no caller ever probes a store.

    Errors: a driver's failure comes out as an `MregError` (missing object: NotFoundError; unreachable,
    refusing or full: RemoteError; bad configuration: UsageError), translated by one table per adapter.
    Anything else (a bug in mreg) propagates unchanged.
    """

    url: str
    is_local: bool  # bytes on this machine: pulls read the store directly instead of through the cache
    is_default: bool  # the per-clone store inside the git dir (nothing configured)
    jobs: int  # transfers in flight at once; callers may set it (a local store works in order)

    def exists(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int | None: ...

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        """Store a file; returns (digest, size, whether bytes were written)."""
        ...

    def put_bytes(self, data: bytes, digest: str) -> bool: ...

    def open(self, digest: str) -> contextlib.AbstractContextManager[BinaryIO]: ...

    def download(
        self, digest: str, sinks: Sequence[BinaryIO], progress: Progress | None = None
    ) -> tuple[str, int]:
        """Copy the object into every sink while hashing it (no sink: just hash); returns (the digest its
        bytes hash to, size). The caller compares that with `digest` before it uses what it wrote. An
        error writing a sink is the caller's (an OSError, unchanged), not the store's."""
        ...

    def read_verified(self, digest: str) -> bytes: ...

    def list_objects(self) -> Iterator[StoredObject]: ...

    def delete(self, digest: str) -> None:
        """Remove one object; removing what is not there is no error."""
        ...

    def delete_many(self, digests: Sequence[str]) -> None:
        """Remove objects, batched where the backend can (S3: 1,000 keys a request)."""
        ...

    def stale_uploads(self, older_than: float) -> list[StaleUpload]:
        """What interrupted uploads left, untouched since `older_than` (a Unix time); [] where none can be."""
        ...

    def remove_stale(self, items: Sequence[StaleUpload]) -> None: ...

    def cancel(self) -> None:
        """Stop in-flight transfers (another thread failed, or Ctrl-C); a no-op where there are none."""
        ...


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
