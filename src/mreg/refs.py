"""Names, references and `--at` values (SPEC §2). Pure: nothing here touches git or disk."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mreg.errors import UsageError

# \Z, not $: `$` also matches before a trailing newline, which would let "fraud\n" through.
MODEL_PATTERN = r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?"
MODEL_RE = re.compile(rf"^{MODEL_PATTERN}\Z")
ALIAS_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?\Z")
VERSION_RE = re.compile(r"^v?([1-9][0-9]{0,8})\Z")
RESERVED_ALIAS_RE = re.compile(r"^(?:latest|v[0-9]+)\Z")
RELATIVE_AT_RE = re.compile(r"^([0-9]{1,6})([smhdw])\Z")


def check_model(name: str) -> str:
    """Refuse anything that could not be both a path segment and a ref component."""
    if not MODEL_RE.match(name) or ".." in name or name.endswith(".lock"):
        raise UsageError(
            f"invalid model name {name!r}",
            hint="use 1-64 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
        )
    return name


def check_alias(name: str) -> str:
    if not ALIAS_RE.match(name):
        raise UsageError(
            f"invalid alias {name!r}",
            hint="use 1-32 lowercase letters, digits or '-', starting with a letter",
        )
    if RESERVED_ALIAS_RE.match(name):
        raise UsageError(
            f"alias {name!r} is reserved", hint="'latest' and 'v<digits>' name versions, not aliases"
        )
    return name


@dataclass(frozen=True)
class Ref:
    """A parsed reference: exactly one of `version` and `alias` is set, or neither for latest."""

    model: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.model}@v{self.version}"
        if self.alias is not None:
            return f"{self.model}@{self.alias}"
        return f"{self.model}@latest"


def parse_ref(text: str) -> Ref:
    """Parse MODEL, MODEL@v3, MODEL@3, MODEL@alias, MODEL@latest."""
    model, sep, selector = text.partition("@")
    if not model:
        raise UsageError(
            f"invalid reference {text!r}: missing model name", hint="write MODEL@vN or MODEL@ALIAS"
        )
    check_model(model)
    if not sep or selector == "latest":
        return Ref(model)
    if not selector:
        raise UsageError(
            f"invalid reference {text!r}: nothing after '@'", hint="write MODEL@vN or MODEL@ALIAS"
        )
    if "@" in selector:
        raise UsageError(f"invalid reference {text!r}: more than one '@'")
    m = VERSION_RE.match(selector)
    if m:
        return Ref(model, version=int(m.group(1)))
    if (
        re.fullmatch(r"v?[0-9]+", selector, re.ASCII)
        or (selector[:1] == "v" and selector[1:].isdigit())
        or selector.isdigit()
    ):
        raise UsageError(
            f"invalid version {selector!r} in {text!r}", hint="versions are positive integers: v1, v2, …"
        )
    if not ALIAS_RE.match(selector):
        raise UsageError(f"invalid alias {selector!r} in {text!r}")
    return Ref(model, alias=selector)


# What a version was fine-tuned from when that is not in this registry (SPEC §4): a URI with a scheme,
# recorded as given (`hf://org/model`, `s3://bucket/base/`). The manifest schema says the same.
EXTERNAL_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s\x00-\x1f\x7f]+\Z")
MAX_EXTERNAL_URI = 2048


def is_external(text: str) -> bool:
    """A parent written as a URI (`scheme://…`) rather than a reference of this registry."""
    return "://" in text


def check_external(text: str, *, flag: str = "--parent") -> str:
    """An external parent URI, unchanged: a scheme, `://`, then no blank or control character."""
    if len(text) > MAX_EXTERNAL_URI or not EXTERNAL_URI_RE.match(text):
        raise UsageError(
            f"{flag} {text[:80]!r}: not a URI (scheme://… of at most {MAX_EXTERNAL_URI} characters, "
            "no blanks or control characters)",
            hint="name a registered version (MODEL@vN, MODEL@ALIAS) or an external URI such as hf://org/model",
        )
    return text


def parse_version(text: str) -> int:
    m = VERSION_RE.match(text)
    if not m:
        raise UsageError(f"invalid version {text!r}", hint="write vN or N, N ≥ 1")
    return int(m.group(1))


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def as_datetime(at: datetime | str | None) -> datetime | None:
    """`at` as callers give it: a datetime, the CLI's WHEN text (`2026-11-01`, `30d`), or None (now)."""
    return parse_at(at) if isinstance(at, str) else at


def parse_at(text: str, *, now: datetime | None = None) -> datetime:
    """`--at`: ISO-8601 date or datetime (UTC when no zone is given), or `30d`/`12h` ago."""
    now = now or datetime.now(timezone.utc)
    value = text.strip()
    m = RELATIVE_AT_RE.match(value)
    if m:
        try:
            return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        except OverflowError:  # 999999w: before year 1
            raise UsageError(f"invalid --at value {text!r}: before year 1") from None
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise UsageError(
            f"invalid --at value {text!r}",
            hint="use an ISO-8601 date or datetime (2026-11-01, 2026-11-01T12:00:00Z) or an age like 30d or 12h",
        ) from None
    if re.fullmatch(
        r"[0-9]{4}-?[0-9]{2}-?[0-9]{2}", value
    ):  # a bare date (either form) means the end of that day
        parsed = parsed.replace(hour=23, minute=59, second=59)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def utc_stamp(text: str) -> str:
    """A claimed time (a manifest's `created_at`, a record's `at`) as `YYYY-MM-DDTHH:MM:SSZ`, so that
    times of any precision and zone compare as text; as given when it does not parse."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        return text
