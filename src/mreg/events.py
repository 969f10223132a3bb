"""Registry events (SPEC §12): what happened, derived from git alone, with deterministic ids.

mreg has no server, so nothing is *emitted*: an event is a fact git already holds — a registry commit
that added a manifest or an evaluation record, an alias tag, a promotion's review branch — read
back and given an id that depends only on that fact. Two runs of `mreg notify` (two CI jobs, a
rerun after a crash) derive the same events with the same ids, so a receiver can drop a redelivery.

The JSON shape (`schemas/event.schema.json`, `mreg/event/v1`):

```json
{"schema": "mreg/event/v1", "id": "evt_…", "type": "alias.moved", "time": "2026-12-05T10:00:00Z",
 "registry": "https://github.com/acme/models.git", "model": "fraud", "subject": "fraud@production",
 "data": {"alias": "production", "version": 3, "previous": 2, "move": "promote", "reviewed": true, …}}
```
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

EVENT_SCHEMA = "mreg/event/v1"
VERSION_REGISTERED = "version.registered"
ALIAS_MOVED = "alias.moved"
REVIEW_REQUESTED = "review.requested"
EVALUATION_ADDED = "evaluation.added"
LIFECYCLE_CHANGED = "version.lifecycle"  # archive, unarchive, purging, purged (issue 20)
EVENT_TYPES = (VERSION_REGISTERED, ALIAS_MOVED, REVIEW_REQUESTED, EVALUATION_ADDED, LIFECYCLE_CHANGED)


@dataclass(frozen=True)
class Event:
    """One event: `key` is what identifies the fact in git (so the id is the same in every run);
    `cursor` says how far its source has been delivered once it has (see ops/notify.py)."""

    type: str
    key: str
    timestamp: int  # unix seconds: the commit's or the tag's time
    model: str
    subject: str
    data: Mapping[str, Any]
    source: str = ""  # "registry", "tags" or "reviews": which cursor it advances
    cursor: tuple[str, ...] = field(default=())  # the source's position once it is delivered

    @property
    def id(self) -> str:
        return event_id(self.type, self.key)

    @property
    def time(self) -> str:
        return iso(self.timestamp)

    def to_json(self, registry: str | None) -> dict[str, Any]:
        return {
            "schema": EVENT_SCHEMA,
            "id": self.id,
            "type": self.type,
            "time": self.time,
            "registry": registry,
            "model": self.model,
            "subject": self.subject,
            "data": dict(self.data),
        }


def event_id(kind: str, key: str) -> str:
    """`evt_` and 32 hex digits of sha256(type, key): the same fact, the same id, in any run."""
    return "evt_" + hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()[:32]


def iso(stamp: int) -> str:
    try:
        return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "1970-01-01T00:00:00Z"


def summary(event: Mapping[str, Any]) -> str:
    """One line a person reads (Slack, Teams, logs): what happened to what, by whom."""
    data = event.get("data") or {}
    kind = event.get("type")
    by = data.get("by") or "someone"
    if kind == VERSION_REGISTERED:
        return f"{event.get('subject')} registered by {by}"
    if kind == EVALUATION_ADDED:
        figures = ", ".join(f"{k}={v}" for k, v in list((data.get("metrics") or {}).items())[:6])
        return f"{event.get('subject')} evaluated on {data.get('dataset')}: {figures} (by {by})"
    if kind == ALIAS_MOVED:
        alias, version, previous = data.get("alias"), data.get("version"), data.get("previous")
        model = event.get("model")
        if data.get("move") == "demote" or version is None:
            what = f"{model}@{alias} removed"
        else:
            was = f" (was v{previous})" if previous is not None else ""
            verb = "rolled back to" if data.get("move") == "rollback" else "now"
            what = f"{model}@{alias} {verb} v{version}{was}"
        mark = "" if data.get("reviewed", True) else " — UNREVIEWED"
        return f"{what} by {by}{mark}"
    if kind == LIFECYCLE_CHANGED:
        verbs = {
            "archive": "archived",
            "unarchive": "unarchived",
            "purging": "being purged",
            "purged": "purged",
        }
        verb = verbs.get(str(data.get("event")), str(data.get("event")))
        return f"{event.get('subject')} {verb} by {by}: {data.get('reason')}"
    if kind == REVIEW_REQUESTED:
        return (
            f"review requested: {event.get('model')} v{data.get('version')} to {data.get('alias')} (by {by})"
        )
    return f"{kind} {event.get('subject')}"
