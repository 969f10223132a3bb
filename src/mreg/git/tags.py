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

from mreg.digest import DIGEST_RE
from mreg.git.repo import GitRepo
from mreg.layout import TAG_NAMESPACE, tag_prefix
from mreg.refs import ALIAS_RE, MODEL_RE

RECORD_KEYS = (
    "event",
    "model",
    "alias",
    "version",
    "digest",
    "previous",
    "reason",
    "request",
    "governed",
    "at",
)
# Informative keys after the record's own (SPEC §14): an imported move's origin and original user.
# Readers decide nothing on them; `log` shows them in place of the importer.
ORIGIN_KEYS = ("imported_from", "by")
MAX_ORIGIN = 256
_HEX40 = re.compile(r"^[0-9a-f]{40}\Z")
_DIGEST = DIGEST_RE


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
    signature_kind: str = ""  # "ssh" or "pgp": from the signature block git appended, never from the record
    recorded_at: float | None = None  # the record's `at` (UTC, microseconds): orders events across aliases
    imported_from: str | None = None  # an imported move (SPEC §14): the system it came from
    original_by: str | None = None  # ... and who made it there (the tagger is whoever imported it)

    @property
    def order_time(self) -> float:
        return self.recorded_at if self.recorded_at is not None else float(self.timestamp)

    @property
    def when(self) -> datetime:
        return from_unix(self.timestamp)

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


def from_unix(stamp: int) -> datetime:
    """A git timestamp as a UTC datetime; one past year 9999 (git accepts it) reads as the epoch."""
    try:
        return datetime.fromtimestamp(stamp, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0, timezone.utc)


def subject(event: str, model: str, alias: str, version: int | None) -> str:
    """The one line that names an alias move: a tag's subject, a proposal's commit and PR title."""
    if event == "demote":
        return f"demote {model} {alias}"
    if event == "rollback":
        return f"rollback {model} {alias} to v{version}"
    return f"promote {model} v{version} to {alias}"


def format_record(record: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """The tag message: subject and the record; `extra` keys (an import's origin, SPEC §14) follow
    the record's own and are informative only (readers decide nothing on them)."""
    subject_line = subject(record["event"], record["model"], record["alias"], record["version"])
    lines = [f"{k}: {json.dumps(record.get(k), ensure_ascii=False)}" for k in RECORD_KEYS]
    lines += [
        f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in (extra or {}).items() if k not in RECORD_KEYS
    ]
    body = "\n".join(lines)
    return f"{subject_line}\n\n{body}\n"


def parse_record(body: str) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for line in body.splitlines():
        key, sep, value = line.partition(": ")
        if sep and (key in RECORD_KEYS or key in ORIGIN_KEYS):
            try:
                record[key] = json.loads(value)
            except ValueError:
                record[key] = value
    return record


MAX_TAG_BYTES = 64 * 1024  # a record is a few hundred bytes; a signature a few KiB


@dataclass(frozen=True)
class _RawTag:
    refname: str
    name: str  # what the tag object calls itself (its `tag` header)
    kind: str
    size: int
    target: str
    target_kind: str
    tagger: str
    timestamp: int
    body: str
    signature: str


def _raw_tags(git: GitRepo, pattern: str) -> tuple[list[_RawTag], list[tuple[str, str]]]:
    """Tags under `pattern`, read boundedly: names first (one cheap for-each-ref), then object sizes
    and types, then the contents of only the annotated tags small enough to be records. Returns the
    readable tags and (tag, why) for every ref skipped."""
    shaped, odd = _shaped(_tag_refs(git, pattern))
    tags, unreadable = _read_tags(git, shaped)
    return tags, odd + unreadable


def _tag_refs(git: GitRepo, pattern: str) -> list[str]:
    return git.ref_names(pattern)


# <model>/<alias>/<canonical seq> of one tag name; `_shaped` then checks the model and alias names
_TAG_PARTS = re.compile(rf"^{re.escape(TAG_NAMESPACE)}([^/\n]+)/([^/\n]+)/([1-9][0-9]{{0,8}})$", re.M)


def _canonical_seq(seq: str) -> bool:
    """A seq is canonical decimal, 1 to 999,999,999: `003` or a Unicode digit never names one. (No
    regex: this runs for each of 100,000 tags.)"""
    return 0 < len(seq) <= 9 and seq.isascii() and seq.isdigit() and seq[0] != "0"


def _shaped(refnames: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The refs named mreg/<model>/<alias>/<seq> with valid parts, and (tag, why) for the rest."""
    odd: list[tuple[str, str]] = []
    shaped = []
    named: dict[tuple[str, str], bool] = {}  # a few thousand distinct (model, alias) pairs at most
    start = len(TAG_NAMESPACE)
    for refname in refnames:
        parts = refname[start:].split("/")
        if len(parts) != 3:
            odd.append((refname.removeprefix("refs/tags/"), "is not named mreg/<model>/<alias>/<seq>"))
            continue
        model, alias, seq = parts
        valid = named.get((model, alias))
        if valid is None:
            valid = named[(model, alias)] = bool(
                MODEL_RE.match(model) and ".." not in model and ALIAS_RE.match(alias)
            )
        if not _canonical_seq(seq):
            odd.append(
                (refname.removeprefix("refs/tags/"), "has a non-canonical seq (1, 2, 3, ... only): ignored")
            )
        elif not valid:
            odd.append((refname.removeprefix("refs/tags/"), "does not name a valid model and alias: ignored"))
        else:
            shaped.append(refname)
    return shaped, odd


def _read_tags(git: GitRepo, shaped: list[str]) -> tuple[list[_RawTag], list[tuple[str, str]]]:
    odd: list[tuple[str, str]] = []
    infos = git.object_info(shaped)
    small = []
    for refname, info in zip(shaped, infos, strict=True):
        name = refname.removeprefix("refs/tags/")
        if info is None:
            odd.append((name, "cannot be read"))
        elif info[1] != "tag":
            odd.append((name, "is a lightweight tag (alias tags are annotated): ignored"))
        elif info[2] > MAX_TAG_BYTES:
            odd.append(
                (name, f"is {info[2]:,} bytes, more than a tag record may be ({MAX_TAG_BYTES:,}): ignored")
            )
        else:
            small.append((refname, info))
    out = []
    for (refname, info), raw in zip(small, git.read_objects([i[0] for _, i in small]), strict=True):
        tag = _parse_tag(refname, info, raw)
        name = refname.removeprefix("refs/tags/")
        if tag is None or tag.target_kind != "commit" or not _HEX40.match(tag.target):
            odd.append((name, "does not point at a commit: ignored"))
        elif tag.name != name:  # a (signed) tag object copied under another name: a replay
            odd.append((name, f"is a tag object named {tag.name!r}, pushed under another name: ignored"))
        else:
            out.append(tag)
    return out, odd


def _parse_tag(refname: str, info: tuple[str, str, int], raw: bytes | None) -> _RawTag | None:
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace")
    head, _, message = text.partition("\n\n")
    fields: dict[str, str] = {}
    for line in head.split("\n"):
        key, _, value = line.partition(" ")
        fields.setdefault(key, value)
    tagger, stamp = fields.get("tagger", ""), 0
    who, sep, rest = tagger.rpartition(">")
    if sep:
        when = rest.split()
        stamp = int(when[0]) if when and when[0].isascii() and when[0].isdigit() and len(when[0]) < 12 else 0
        tagger = who + ">"
    signature = ""
    m = _SIGNATURE.search(message)
    if m:
        message, signature = message[: m.start()], message[m.start() :]
    _, _, body = message.partition("\n\n")  # the subject line, then the record
    return _RawTag(
        refname,
        fields.get("tag", ""),
        info[1],
        info[2],
        fields.get("object", ""),
        fields.get("type", ""),
        tagger.strip(),
        stamp,
        body,
        signature,
    )


_SIGNATURE = re.compile(r"^-----BEGIN (?:PGP|SSH) SIGNATURE-----$|^-----BEGIN SIGNED MESSAGE-----$", re.M)


def read_events(git: GitRepo, model: str | None, alias: str | None = None) -> list[AliasEvent]:
    """Alias events of one model (or one alias of it, or of every model when `model` is None),
    ordered by model, alias, seq. Only annotated tags with a canonical seq, a bounded size and a
    record that names itself count (SPEC §6); `odd_tags` lists the rest."""
    pattern = tag_prefix(model, alias) if model else TAG_NAMESPACE
    tags, _ = _raw_tags(git, pattern)
    return _events(tags, model)


def read_current(git: GitRepo, model: str | None = None) -> list[AliasEvent]:
    """What `read_events` would give `current_all` for every alias (of one model, or of all), reading
    only the newest tag of each alias: at 100,000 tags, `list` reads 3,000 instead of all (issue 14).
    Where an alias's newest tag is no record (malformed, lightweight, oversized...), all of that
    alias's tags are read, so the value is the same as from the full read: its highest valid seq.
    The events of older seqs that a protected alias's standing may need: `read_events(git, m, a)`."""
    pattern = tag_prefix(model) if model else TAG_NAMESPACE
    names = "\n".join(_tag_refs(git, pattern))
    newest: dict[tuple[str, str], int] = {}
    for m, a, seq in _TAG_PARTS.findall(names):  # one regex pass over 100,000 names, in C
        if newest.get((m, a), 0) < int(seq):
            newest[(m, a)] = int(seq)
    shaped, _ = _shaped([f"{TAG_NAMESPACE}{m}/{a}/{seq}" for (m, a), seq in newest.items()])
    tags, _ = _read_tags(git, shaped)
    events = _events(tags, model)
    complete = {(e.model, e.alias) for e in events}
    named = {tuple(ref[len(TAG_NAMESPACE) :].split("/")[:2]) for ref in shaped}  # valid names only
    for m, a in sorted(named - complete):
        events.extend(read_events(git, m, a))
    events.sort(key=lambda e: (e.model, e.alias, e.seq))
    return events


def tag_seqs(git: GitRepo) -> dict[tuple[str, str], list[int]]:
    """Every (model, alias) and the canonical seqs its tags have, from names alone (one for-each-ref)."""
    names = "\n".join(_tag_refs(git, TAG_NAMESPACE))
    out: dict[tuple[str, str], list[int]] = {}
    for m, a, seq in _TAG_PARTS.findall(names):
        out.setdefault((m, a), []).append(int(seq))
    return out


def read_tags(git: GitRepo, model: str, alias: str, seqs: list[int]) -> list[AliasEvent]:
    """The events of these seqs of one alias (those that are records), ordered by seq."""
    refnames = [f"{TAG_NAMESPACE}{model}/{alias}/{seq}" for seq in sorted(seqs)]
    shaped, _ = _shaped(refnames)
    tags, _ = _read_tags(git, shaped)
    return _events(tags, model)


def _events(tags: list[_RawTag], model: str | None) -> list[AliasEvent]:
    """The tags that hold a record of their own move, as events ordered by model, alias, seq."""
    events = []
    for t in tags:
        parts = t.refname[len(TAG_NAMESPACE) :].split("/")
        if model is not None and parts[0] != model:
            continue
        rec = parse_record(t.body)
        if rec.get("model") != parts[0] or rec.get("alias") != parts[1]:
            continue  # a tag in our namespace that does not describe itself consistently is ignored
        version = rec.get("version")
        digest, governed = rec.get("digest"), rec.get("governed")
        kind = rec.get("event") if rec.get("event") in ("promote", "rollback", "demote") else "promote"
        if (kind == "demote") != (version is None) or (version is not None and not _is_int(version)):
            continue  # a move must name a version and a demote none: anything else is not a record
        if version is not None and not (isinstance(digest, str) and _DIGEST.match(digest)):
            continue  # a move names the digest of what it moves to
        events.append(
            AliasEvent(
                model=parts[0],
                alias=parts[1],
                seq=int(parts[2]),
                event=str(kind),
                version=version if _is_int(version) else None,
                digest=digest if isinstance(digest, str) else None,
                previous=rec.get("previous") if _is_int(rec.get("previous")) else None,
                reason=_text(rec.get("reason")),
                request=_text(rec.get("request")),
                tagger=t.tagger,
                timestamp=t.timestamp,
                commit=t.target,
                tag=t.refname.removeprefix("refs/tags/"),
                signed=bool(t.signature.strip()),
                signature_kind="ssh"
                if t.signature.startswith("-----BEGIN SSH")
                else ("pgp" if t.signature else ""),
                governed=governed if isinstance(governed, str) and _HEX40.match(governed) else None,
                recorded_at=_parse_at(rec.get("at")),
                imported_from=_origin(rec.get("imported_from")),
                original_by=_origin(rec.get("by")) if _origin(rec.get("imported_from")) else None,
            )
        )
    events.sort(key=lambda e: (e.model, e.alias, e.seq))
    return events


def odd_tags(git: GitRepo) -> list[tuple[str, str]]:
    """(tag, why) for every ref under refs/tags/mreg/ that `read_events` ignores: lightweight tags,
    non-canonical seqs, oversized or malformed tags, records that do not describe their own tag."""
    tags, odd = _raw_tags(git, TAG_NAMESPACE)
    for t in tags:
        parts = t.refname[len(TAG_NAMESPACE) :].split("/")
        rec = parse_record(t.body)
        if rec.get("model") != parts[0] or rec.get("alias") != parts[1]:
            odd.append(
                (t.refname.removeprefix("refs/tags/"), "holds a record for another model or alias: ignored")
            )
    return sorted(odd)


def _parse_at(value: Any) -> float | None:
    if not isinstance(value, str) or len(value) > 40 or not value.endswith("Z"):
        return None
    try:
        return datetime.fromisoformat(value[:-1] + "+00:00").timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**9


def _origin(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_ORIGIN else None


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
