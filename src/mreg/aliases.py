"""Alias tags (SPEC §6): names, the YAML record in their message, and reading them back.

The record is written one `key: <JSON value>` per line: valid YAML for people and tools, and
parseable here without importing a YAML library, which keeps `mreg resolve` fast.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from mreg.gitrepo import GitRepo
from mreg.layout import TAG_NAMESPACE, tag_prefix

RECORD_KEYS = ("event", "model", "alias", "version", "digest", "previous", "reason", "request", "governed", "at")
SEQ_RE = re.compile(r"^[1-9][0-9]{0,8}\Z")  # canonical decimal: `003` or a Unicode digit never names a seq
_HEX40 = re.compile(r"^[0-9a-f]{40}\Z")
_FIELDS = (
    "%(refname)",
    "%(objecttype)",
    "%(*objectname)",
    "%(taggername) %(taggeremail)",
    "%(taggerdate:unix)",
    "%(contents:body)",
    "%(contents:signature)",
)


@dataclass(frozen=True)
class AliasEvent:
    model: str
    alias: str
    seq: int
    event: str
    version: int | None
    digest: str | None
    previous: int | None
    reason: str | None
    request: str | None
    tagger: str
    timestamp: int
    commit: str
    tag: str
    signed: bool = False
    governed: str | None = None  # the mreg/aliases commit whose pin this tag applies (SPEC §6)

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, timezone.utc)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "seq": self.seq,
            "event": self.event,
            "version": self.version,
            "digest": self.digest,
            "previous": self.previous,
            "reason": self.reason,
            "request": self.request,
            "by": self.tagger,
            "at": self.when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tag": self.tag,
            "governed": self.governed,
        }


def format_record(record: dict[str, Any]) -> str:
    event, model, alias, version = record["event"], record["model"], record["alias"], record["version"]
    if event == "demote":
        subject = f"demote {model} {alias}"
    elif event == "rollback":
        subject = f"rollback {model} {alias} to v{version}"
    else:
        subject = f"promote {model} v{version} to {alias}"
    body = "\n".join(f"{k}: {json.dumps(record.get(k), ensure_ascii=False)}" for k in RECORD_KEYS)
    return f"{subject}\n\n{body}\n"


def parse_record(body: str) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for line in body.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in RECORD_KEYS:
            try:
                record[key] = json.loads(value)
            except ValueError:
                record[key] = value
    return record


def read_events(git: GitRepo, model: str | None, alias: str | None = None) -> list[AliasEvent]:
    """Alias events of one model (or one alias of it, or of every model when `model` is None),
    ordered by model, alias, seq: a single for-each-ref either way. Only annotated tags with a
    canonical seq and a record that names itself count (SPEC §6); `odd_tags` lists the rest."""
    pattern = tag_prefix(model, alias) if model else TAG_NAMESPACE
    rows = git.for_each_ref(pattern, _FIELDS)
    events = []
    for refname, kind, commit, tagger, stamp, body, signature in (r for r in rows if len(r) == 7):
        parts = refname[len(TAG_NAMESPACE):].split("/")
        if len(parts) != 3 or kind != "tag" or not SEQ_RE.match(parts[2]) or not _HEX40.match(commit):
            continue
        if model is not None and parts[0] != model:
            continue
        rec = parse_record(body)
        if rec.get("model") != parts[0] or rec.get("alias") != parts[1]:
            continue  # a tag in our namespace that does not describe itself consistently is ignored
        version = rec.get("version")
        digest, governed = rec.get("digest"), rec.get("governed")
        events.append(
            AliasEvent(
                model=parts[0],
                alias=parts[1],
                seq=int(parts[2]),
                event=str(rec.get("event") or "promote"),
                version=version if _is_int(version) else None,
                digest=digest if isinstance(digest, str) else None,
                previous=rec.get("previous") if _is_int(rec.get("previous")) else None,
                reason=_text(rec.get("reason")),
                request=_text(rec.get("request")),
                tagger=tagger.strip(),
                timestamp=int(stamp) if stamp.isascii() and stamp.isdigit() else 0,
                commit=commit,
                tag=refname.removeprefix("refs/tags/"),
                signed=bool(signature.strip()),
                governed=governed if isinstance(governed, str) and _HEX40.match(governed) else None,
            )
        )
    events.sort(key=lambda e: (e.model, e.alias, e.seq))
    return events


def odd_tags(git: GitRepo) -> list[tuple[str, str]]:
    """(tag, why) for every ref under refs/tags/mreg/ that `read_events` ignores: lightweight tags,
    non-canonical seqs, malformed names, records that do not describe their own tag."""
    out = []
    for row in git.for_each_ref(TAG_NAMESPACE, ("%(refname)", "%(objecttype)", "%(*objectname)", "%(contents:body)")):
        if len(row) != 4:
            continue
        refname, kind, commit, body = row
        name = refname.removeprefix("refs/tags/")
        parts = refname[len(TAG_NAMESPACE):].split("/")
        if len(parts) != 3:
            out.append((name, "is not named mreg/<model>/<alias>/<seq>"))
        elif kind != "tag":
            out.append((name, "is a lightweight tag (alias tags are annotated): ignored"))
        elif not SEQ_RE.match(parts[2]):
            out.append((name, "has a non-canonical seq (1, 2, 3, ... only): ignored"))
        elif not _HEX40.match(commit):
            out.append((name, "does not point at a commit: ignored"))
        else:
            rec = parse_record(body)
            if rec.get("model") != parts[0] or rec.get("alias") != parts[1]:
                out.append((name, "holds a record for another model or alias: ignored"))
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**9


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def current(events: list[AliasEvent], alias: str, *, at: int | None = None) -> AliasEvent | None:
    """The alias's value is its highest seq (never a timestamp); `at` only filters what existed then."""
    best = None
    for e in events:
        if e.alias == alias and (at is None or e.timestamp <= at) and (best is None or e.seq > best.seq):
            best = e
    return best


def current_all(events: list[AliasEvent], *, at: int | None = None) -> dict[str, AliasEvent]:
    out: dict[str, AliasEvent] = {}
    for e in events:
        if at is not None and e.timestamp > at:
            continue
        if e.alias not in out or e.seq > out[e.alias].seq:
            out[e.alias] = e
    return out
