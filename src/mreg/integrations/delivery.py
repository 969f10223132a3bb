"""Sending an outlet's request (SPEC §12): one POST, retried with backoff, summed up in one line.

Retried: a connection that fails or breaks, 429 (after its Retry-After), 5xx, and GitHub's 403 that
is a rate limit (Retry-After or `x-ratelimit-remaining: 0`). Not retried: any other 4xx (the request
itself is wrong: a revoked webhook, a bad token), a redirect (never followed: it would carry the
body, and a token, somewhere nobody configured), a certificate that does not verify. 2xx is success.

The wait before attempt n+1 is `base * 2**(n-1)` seconds with jitter (half fixed, half random),
capped at 30 s; `base` is MREG_NOTIFY_BACKOFF (default 1.0; tests set 0.01). A Retry-After of up to
30 s is waited exactly; a longer one ends the delivery at once, failed, for the next `mreg notify`
to retry from the outlet's cursor (a Standard Webhooks signature also ages: receivers refuse one
older than 5 minutes, and 4 waits of 30 s stay well inside that).

So one delivery takes at most `attempts * timeout + (attempts - 1) * 30` seconds (170 s with the
defaults), plus whatever a server that trickles its headers adds.

`Delivery.error` is one line that names the destination by `OutgoingRequest.target` (scheme and host,
never the secret path or query) and never contains the URL's path, query or the Authorization header
— even when a server echoes them back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from mreg import ratelimit
from mreg.integrations.outlets import OutgoingRequest, one_line, redact_url

if TYPE_CHECKING:
    import urllib.request
    from email.message import Message

BACKOFF_ENV = "MREG_NOTIFY_BACKOFF"
DEFAULT_BACKOFF = 1.0
BACKOFF_CAP = ratelimit.BACKOFF_CAP  # the longest wait between two attempts
RETRY_AFTER_CAP = 30.0  # a longer Retry-After is not waited for: the next run retries
EXCERPT = 200  # characters of a failed answer's body kept in the error
READ_LIMIT = 8192  # bytes of a failed answer read for its excerpt (a success's body is not read)


@dataclass(frozen=True)
class Delivery:
    """How one delivery ended: `ok` on a 2xx; `status` the last HTTP status (None: no answer);
    `attempts` made; `error` one line without any secret (None when ok)."""

    ok: bool
    status: int | None
    attempts: int
    error: str | None


class _Outcome(NamedTuple):
    status: int | None
    ok: bool
    retry: bool
    wait: float | None  # what the server asked for (Retry-After), or None: back off
    error: str | None


def backoff_base(env: dict[str, str] | None = None) -> float:
    """MREG_NOTIFY_BACKOFF as seconds (finite, >= 0); the default 1.0 when unset or not a number."""
    return ratelimit.backoff_base(BACKOFF_ENV, DEFAULT_BACKOFF, env)


backoff = ratelimit.backoff


def deliver(
    req: OutgoingRequest,
    *,
    attempts: int = 5,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST `req`, retrying as the module says, at most `attempts` times; never raises for the network."""
    import urllib.request

    opener = urllib.request.build_opener(_no_redirect_handler())
    base = backoff_base()
    attempts = max(1, attempts)
    for n in range(1, attempts + 1):
        outcome = _attempt(opener, req, timeout)
        if outcome.ok:
            return Delivery(True, outcome.status, n, None)
        error = outcome.error or "failed"
        if not outcome.retry or n == attempts:
            return Delivery(False, outcome.status, n, error + _tries(n))
        if outcome.wait is not None and outcome.wait > RETRY_AFTER_CAP:
            return Delivery(
                False,
                outcome.status,
                n,
                f"{error}; it asks to wait {outcome.wait:.0f} s, more than {RETRY_AFTER_CAP:.0f} s: "
                f"left for the next run{_tries(n)}",
            )
        sleep(outcome.wait if outcome.wait is not None else backoff(base, n))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns on its last attempt


def _tries(n: int) -> str:
    return f" (after {n} attempts)" if n > 1 else ""


def _attempt(opener: urllib.request.OpenerDirector, req: OutgoingRequest, timeout: float) -> _Outcome:
    import http.client
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(req.url, data=req.body, method="POST")
    for name, value in req.headers.items():
        request.add_header(name, value)
    target = req.target
    try:
        with opener.open(request, timeout=timeout) as resp:
            return _Outcome(resp.status, True, False, None, None)
    except urllib.error.HTTPError as exc:
        try:
            # scrubbed whole, then cut: a secret cut in half would no longer be found
            reason = one_line(_scrub(str(exc.reason or ""), req), EXCERPT)
            excerpt = one_line(_scrub(_excerpt(exc), req), EXCERPT)
            return _answer(exc.code, reason, exc.headers, excerpt, target)
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        retry = not isinstance(exc.reason, ssl.SSLCertVerificationError)
        said = _scrub(one_line(exc.reason, EXCERPT), req)
        return _Outcome(None, False, retry, None, f"cannot reach {target}: {said}")
    except (http.client.HTTPException, OSError) as exc:  # reset, timeout, a broken answer
        what = _scrub(one_line(exc, EXCERPT), req) or type(exc).__name__
        return _Outcome(None, False, True, None, f"no answer from {target}: {what}")
    except ValueError as exc:  # a URL urllib cannot use: request_for refuses these first
        said = _scrub(one_line(exc, EXCERPT), req)
        return _Outcome(None, False, False, None, f"cannot send to {target}: {said}")


def _answer(code: int, reason: str, headers: Message, excerpt: str, target: str) -> _Outcome:
    said = f"{target} answered {code}" + (f" {one_line(reason, 60)}" if reason else "")
    said += f": {excerpt}" if excerpt else ""
    if 300 <= code < 400:
        where = redact_url(headers.get("Location") or "") if headers.get("Location") else "elsewhere"
        return _Outcome(
            code, False, False, None, f"{said}; redirected to {where}, which mreg does not follow"
        )
    now = time.time()
    if code == 429 or code >= 500:
        return _Outcome(code, False, True, ratelimit.limit_wait(headers, now), said)
    if ratelimit.is_rate_limit(code, headers, excerpt):
        return _Outcome(code, False, True, ratelimit.limit_wait(headers, now), f"{said} (rate limited)")
    return _Outcome(code, False, False, None, said)


def _excerpt(exc: Any) -> str:
    """The start of a failed answer's body, one line: GitHub's JSON `message`, or Slack's plain text
    (`no_service`, `invalid_payload`, `channel_is_archived`)."""
    try:
        raw = exc.read(READ_LIMIT) or b""
    except (OSError, ValueError, AttributeError):
        return ""
    text = raw.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        import json

        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict) and isinstance(document.get("message"), str):
            text = document["message"]
        elif isinstance(document, dict) and isinstance(document.get("error"), (str, dict)):
            error = document["error"]
            text = str(error.get("message") or error) if isinstance(error, dict) else error
    return one_line(text, READ_LIMIT)


def _secrets(req: OutgoingRequest) -> list[str]:
    """Every piece of the request that is a credential, longest first: the URL, its path and query
    and their long parts, user:password, the Authorization header and its token."""
    from urllib.parse import parse_qsl, urlsplit

    found = {req.url}
    try:
        parts = urlsplit(req.url)
    except ValueError:
        parts = None
    if parts is not None:
        found |= {parts.query, parts.fragment, parts.netloc.rpartition("@")[0]}
        if len(parts.path) > 1:
            found.add(parts.path)
        found |= {seg for seg in parts.path.split("/") if len(seg) >= 8}
        found |= {v for _, v in parse_qsl(parts.query) if len(v) >= 8}
    for name, value in req.headers.items():
        if name.lower() in ("authorization", "proxy-authorization"):
            found |= {value, value.partition(" ")[2]}
    from urllib.parse import quote, unquote

    # as sent, and as a server may echo it back: decoded, or encoded once more
    found |= {form for s in list(found) if s for form in (unquote(s), quote(s, safe=""), quote(s))}
    return sorted((s for s in found if s and len(s) >= 4), key=len, reverse=True)


def _scrub(text: str, req: OutgoingRequest) -> str:
    """`text` from outside (a server's answer, an exception) with every secret of `req` cut out.
    The request's own `target` is made without secrets and is never scrubbed."""
    for secret in _secrets(req):
        text = text.replace(secret, "…")
    return text


def _no_redirect_handler() -> Any:
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        """A redirect is an answer, not an instruction: returning None makes urllib raise the 3xx."""

        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return NoRedirect()
