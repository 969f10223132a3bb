"""Lifecycle records (issue 20): archive, unarchive, and the purge of a version's bytes by retention.

A version's manifest never changes, so its lifecycle is a list of records of its own at
`models/<model>/lifecycle/<version>/<n>.yaml`, schema `mreg/lifecycle/v1`, bound to the version's
digest, only ever added (SPEC §3a.1). The state is the records folded in order of `<n>`: the last
archive or unarchive decides whether the version is archived; a `purging` record says bytes are
being deleted, a `purged` record that they are gone. Pure: data in, data out.
"""

# No `from __future__ import annotations`: the TypedDicts read NotRequired at run time.

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from mreg.errors import IntegrityError
from mreg.manifest import (
    LIFECYCLE_SCHEMA,
    ValidationMemo,
    dump_yaml,
    first_problem,
    load_checked,
    schema_errors,
)

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # typing_extensions is a dependency on Python 3.10 only
    from typing_extensions import NotRequired

ARCHIVE, UNARCHIVE, PURGING, PURGED = "archive", "unarchive", "purging", "purged"
EVENTS = (ARCHIVE, UNARCHIVE, PURGING, PURGED)
MAX_REASON = 2000


class LifecycleRecord(TypedDict):
    """A lifecycle record as every reader sees it: it passed the schema and the checks below."""

    schema: str
    model: str
    version: int
    version_digest: str
    event: str
    reason: str
    created_at: str
    created_by: str
    objects: NotRequired[list[str]]
    bytes_freed: NotRequired[int]


FIELD_ORDER = (
    "schema",
    "model",
    "version",
    "version_digest",
    "event",
    "reason",
    "created_at",
    "created_by",
    "objects",
    "bytes_freed",
)


def validate_lifecycle(document: Any, *, where: str, model: str, version: int) -> LifecycleRecord:
    """Schema, and the record names the model and version of its path."""
    first_problem(schema_errors(document, LIFECYCLE_SCHEMA), where, "invalid lifecycle record: ")
    return _at_its_path(document, where=where, model=model, version=version)


def _at_its_path(document: Mapping[str, Any], *, where: str, model: str, version: int) -> LifecycleRecord:
    if document.get("model") != model or document.get("version") != version:
        raise IntegrityError(
            f"{where}: invalid lifecycle record: it says {document.get('model')}@v{document.get('version')}, "
            f"but its path is {model}@v{version}'s"
        )
    return cast(LifecycleRecord, dict(document))


def parse_lifecycle(
    blob: bytes,
    *,
    where: str,
    model: str,
    version: int,
    version_digest: str,
    memo: ValidationMemo | None = None,
) -> LifecycleRecord:
    """A record's bytes, bounded, parsed, validated, at its path and bound to the version's digest."""
    doc = load_checked(
        blob,
        schema_id=LIFECYCLE_SCHEMA,
        where=where,
        validate=lambda d: validate_lifecycle(d, where=where, model=model, version=version),
        memo=memo,
    )
    record = _at_its_path(doc, where=where, model=model, version=version)
    if record["version_digest"] != version_digest:
        raise IntegrityError(
            f"{where}: bound to {record['version_digest']}, but {model}@v{version} is {version_digest} "
            "(a record of other bytes)"
        )
    return record


def dump_lifecycle(record: Mapping[str, Any]) -> bytes:
    return dump_yaml({k: record[k] for k in FIELD_ORDER if k in record}).encode()


@dataclass(frozen=True)
class Folded:
    """What a version's records say, folded in order: `archived` by the last archive/unarchive
    (`archive_at` its position in the list), `purge` the last purging/purged record's index."""

    archived: int | None  # index of the archive record in force, None when not archived
    last_archive_event: int | None  # index of the last archive or unarchive record
    purge: int | None  # index of the last purging/purged record
    purged: bool  # a `purged` record follows the last `purging` one (or stands alone)


def fold(events: Sequence[str]) -> Folded:
    archived: int | None = None
    last: int | None = None
    purge: int | None = None
    purged = False
    for i, event in enumerate(events):
        if event == ARCHIVE:
            archived, last = (archived if archived is not None else i), i
        elif event == UNARCHIVE:
            archived, last = None, i
        elif event == PURGING:
            purge, purged = i, False
        elif event == PURGED:
            purge, purged = i, True
    return Folded(archived, last, purge, purged)
