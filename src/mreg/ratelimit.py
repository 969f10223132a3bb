"""When an HTTP answer says "try again later", and how long to wait: the one reader of `Retry-After`,
GitHub's `x-ratelimit-*` headers and its secondary-limit message, and of the backoff between
attempts. Used by the GitHub client (forge/github.py) and by notification delivery
(integrations/delivery.py). A pure leaf: the caller passes the clock and does the sleeping.

GitHub's rules (REST docs, "Rate limits for the REST API" and "Best practices"): a primary limit
is a 403 or 429 with `x-ratelimit-remaining: 0`, retried after `x-ratelimit-reset` (UTC epoch
seconds); a secondary limit is a 403 or 429 whose message says so, retried after `retry-after`
seconds when present, else after the reset when remaining is 0, else after at least one minute.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Mapping
from typing import Protocol

SECONDARY_DEFAULT_WAIT = 60.0  # GitHub: "otherwise, wait for at least one minute before retrying"
BACKOFF_CAP = 30.0  # the longest backoff between two attempts
# a longer wait a server names is read as this one (so no date overflows past the year 9999)
MAX_WAIT = 366 * 24 * 3600.0
# ASCII digits only: header bytes are Latin-1, and 0xB2 is a '²' that passes isdigit() but not int()
_SECONDS = re.compile(r"[0-9]{1,15}\Z")
_SECONDARY_WORDS = ("secondary rate limit", "abuse detection")


class Headers(Protocol):
    """What both urllib's answer headers (`email.message.Message`, case-insensitive) and a test's
    dict offer."""

    def get(self, name: str, default: None = None, /) -> str | None: ...


def _header(headers: Headers, name: str) -> str:
    """A header's value, stripped: urllib's headers ignore case; a plain dict is tried as written,
    in lower case and in Title-Case."""
    for key in (name, name.lower(), name.title()):
        value = headers.get(key)
        if value:
            return str(value).strip()
    return ""


def retry_after(headers: Headers, now: float) -> float | None:
    """Retry-After as seconds from `now` (at most MAX_WAIT): delta-seconds or an HTTP date (RFC 9110);
    None if absent or bad."""
    raw = _header(headers, "Retry-After")
    if not raw:
        return None
    seconds = _seconds(raw)
    if seconds is not None:
        return min(seconds, MAX_WAIT)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(raw)
        if when.tzinfo is None:
            return None
        return min(MAX_WAIT, max(0.0, when.timestamp() - now))
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def until_reset(headers: Headers, now: float) -> float | None:
    """Seconds from `now` to `x-ratelimit-reset` (UTC epoch seconds, at most MAX_WAIT); None if absent or bad."""
    reset = _seconds(_header(headers, "x-ratelimit-reset"))
    return None if reset is None else min(MAX_WAIT, max(0.0, reset - now))


def _seconds(raw: str) -> float | None:
    """A header's whole seconds: ASCII digits only, at most 15 of them; None otherwise."""
    return float(int(raw)) if _SECONDS.match(raw) else None


def exhausted(headers: Headers) -> bool:
    """`x-ratelimit-remaining: 0`: the primary limit is used up."""
    return _header(headers, "x-ratelimit-remaining") == "0"


def is_rate_limit(status: int, headers: Headers, message: str = "") -> bool:
    """A 429, or a 403 that is a limit (remaining 0, a Retry-After, or GitHub's secondary-limit
    message) rather than a refusal of the token."""
    if status == 429:
        return True
    if status != 403:
        return False
    said = message.lower()
    return (
        exhausted(headers)
        or retry_after(headers, 0.0) is not None
        or any(w in said for w in _SECONDARY_WORDS)
    )


def limit_wait(headers: Headers, now: float, *, secondary_default: float | None = None) -> float | None:
    """How long a rate-limited answer asks to wait: `retry-after`, else the reset when remaining is 0,
    else `secondary_default` (GitHub's "at least one minute"; None: the caller backs off)."""
    wait = retry_after(headers, now)
    if wait is None and exhausted(headers):
        wait = until_reset(headers, now)
    return wait if wait is not None else secondary_default


def backoff_base(name: str, default: float = 1.0, env: Mapping[str, str] | None = None) -> float:
    """The environment variable `name` as seconds (finite, >= 0); `default` when unset or not a number."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


def backoff(base: float, attempt: int) -> float:
    """The wait after failed attempt `attempt` (1-based): exponential, capped, half of it jittered."""
    ceiling: float = min(BACKOFF_CAP, base * 2.0 ** min(attempt - 1, 30))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
