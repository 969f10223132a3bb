"""GitHub's REST API for the review flow (SPEC §7), on stdlib urllib: no new dependency, ~5 calls.

Token from GITHUB_TOKEN or GH_TOKEN, owner/repo from GITHUB_REPOSITORY or the remote's URL. The
API, and so the token, only for a host known to be GitHub: github.com (ssh.github.com remotes too),
`*.ghe.com` (`https://api.SUB.ghe.com`), the host GITHUB_SERVER_URL names (`/api/v3`), or
GITHUB_API_URL when set (Actions sets it; it also makes the test server work); any other host gets
no token and the caller prints the manual steps. The token is sent only in the Authorization header,
only to that API's scheme and host (a redirect or a next page elsewhere is refused), and never
appears in a message.

Calls follow GitHub's "Best practices for using the REST API": redirects repeated (method and body),
rate limits read from `x-ratelimit-*`/`retry-after` (mreg.ratelimit) and waited out within
MREG_GITHUB_WAIT, 5xx retried with backoff, lists paged through `Link`.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from mreg import ratelimit
from mreg._version import __version__
from mreg.errors import MregError, NotFoundError, RemoteError, UsageError
from mreg.ports import PullRequest
from mreg.secrets import url_problem

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
TIMEOUT_SECONDS = 30.0
# of a PR body: GitHub says "maximum is 65536 characters"; mreg counts UTF-8 bytes (never fewer)
BODY_LIMIT = 65_536
MAX_PAGES = 20  # of 100 each: more pull requests for one branch or commit than mreg will read
MAX_REDIRECTS = 5
MAX_ANSWER_BYTES = 16 * 1024 * 1024
ATTEMPTS = 4  # per call: a 5xx, a broken connection or a rate limit is tried again, this often in all
REDIRECTS = (301, 302, 303, 307, 308)
RETRIED = (500, 502, 503, 504)
WAIT_ENV, DEFAULT_MAX_WAIT = "MREG_GITHUB_WAIT", 60.0  # rate-limit seconds waited out per call
BACKOFF_ENV = "MREG_GITHUB_BACKOFF"  # base seconds of the backoff after a 5xx (default 1.0)
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+\Z")
# https://github.com/o/r(.git), ssh://git@host[:port]/o/r(.git), git@host:o/r(.git). As git (and curl,
# RFC 3986) reads them: the authority ends at the first `/`, `?` or `#`, so none of these is in the
# user part or the host (`https://evil.example#@github.com/...` goes to evil.example, not GitHub).
_URL_FORMS = (
    re.compile(
        r"^(?:https?|ssh|git)://(?:[^@/?#]+@)?(?P<host>[^/:?#@]+)(?::\d+)?/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?\Z"
    ),
    re.compile(r"^(?:[^@/?#]+@)?(?P<host>[^/:?#@]+):(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?\Z"),
)
_SENDABLE = re.compile(r"[!-~]+\Z")  # what http.client puts in a request line: printable ASCII, no space
_CHUNK = 65536  # bytes read at a time, so the call's deadline is checked while an answer trickles in


@dataclass(frozen=True)
class GitHubTarget:
    """Where the repository lives on GitHub, and the token to use (None: only URLs can be given)."""

    owner: str
    repo: str
    api_url: str
    server_url: str
    token: str | None

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.repo}"

    def __repr__(self) -> str:  # keep the token out of any accidental print or traceback
        return f"GitHubTarget({self.slug!r}, api_url={self.api_url!r}, token={'set' if self.token else None})"


def parse_remote_url(url: str) -> tuple[str, str, str] | None:
    """(host, owner, repo) of a GitHub-style remote URL; None for paths and unknown shapes."""
    for form in _URL_FORMS:
        m = form.match(url.strip())
        if m and _SLUG.match(m.group("owner")) and _SLUG.match(m.group("repo")):
            return m.group("host"), m.group("owner"), m.group("repo")
    return None


def token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def target_from_env(remote_url: str | None, env: Mapping[str, str] | None = None) -> GitHubTarget | None:
    """The GitHub repository this registry reviews in; None when neither env nor remote says."""
    env = os.environ if env is None else env
    parsed = parse_remote_url(remote_url) if remote_url else None
    slug = env.get("GITHUB_REPOSITORY", "").strip()
    if slug:
        owner, sep, repo = slug.partition("/")
        if not sep or not _SLUG.match(owner) or not _SLUG.match(repo):
            raise UsageError(f"GITHUB_REPOSITORY={slug!r} is not OWNER/REPO")
    elif parsed is not None:
        _, owner, repo = parsed
    else:
        return None
    host = (parsed[0] if parsed else "github.com").lower()
    server_env = env.get("GITHUB_SERVER_URL", "").strip().rstrip("/")
    api_env = env.get("GITHUB_API_URL", "").strip().rstrip("/")
    known = _api_for_host(host, server_env)
    if api_env:  # named explicitly (Actions always sets it): the token goes there and nowhere else
        api, server = api_env, server_env or (known[1] if known else f"https://{host}")
    elif known is not None:
        api, server = known
    else:
        return None  # not a GitHub host: no token is sent anywhere; the caller prints the manual steps
    token = token_from_env(env)
    problem = url_problem(api) or (None if _SENDABLE.match(api) else "holds non-ASCII characters")
    if token and problem:  # the token would travel in clear (or not over HTTP at all): refused, as outlets do
        named = "GITHUB_API_URL" if api_env else "GITHUB_SERVER_URL"  # mreg's own API URLs are https
        raise UsageError(
            f"{named} {problem}",
            hint=f"set {named} to the https:// URL of the GitHub API (or unset GITHUB_TOKEN/GH_TOKEN)",
        )
    return GitHubTarget(owner, repo, api.rstrip("/"), server.rstrip("/"), token)


def _api_for_host(host: str, server_env: str) -> tuple[str, str] | None:
    """The API of a host that is GitHub: github.com (and its ssh.github.com:443 remotes), a GitHub
    Enterprise Cloud data-residency host (`*.ghe.com`), or the server GITHUB_SERVER_URL names."""
    if host in ("github.com", "ssh.github.com", "www.github.com"):
        return DEFAULT_API_URL, DEFAULT_SERVER_URL
    if host.endswith(".ghe.com") and re.fullmatch(r"[a-z0-9-]+\.ghe\.com", host):
        return f"https://api.{host}", f"https://{host}"
    if server_env:
        named = urllib.parse.urlsplit(server_env).hostname or ""
        if named.lower() == host:
            return f"{server_env}/api/v3", server_env
    return None


class Unprocessable(RemoteError):
    """GitHub's 422 "Validation Failed", with its `errors` list kept for callers that can handle it."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class GitHubForge:
    """The few pull-request calls of the review flow, against one repository."""

    def __init__(self, target: GitHubTarget, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not target.token:
            raise UsageError("no GitHub token", hint="set GITHUB_TOKEN or GH_TOKEN")
        self.target = target
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())

    # -- the Forge protocol ------------------------------------------------------------------------
    def find_open_pull(self, head: str, base: str) -> PullRequest | None:
        return next(iter(self.list_pulls(head, base, state="open")), None)

    def list_pulls(self, head: str, base: str, *, state: str = "all") -> list[PullRequest]:
        query = {"state": state, "head": f"{self.target.owner}:{head}", "base": base}
        data = self._get_all(f"{self._repo}/pulls", query)
        return [p for p in (_pull(d) for d in data) if p.head == head and p.base == base]

    def create_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        # same-repository head: no maintainer_can_modify (it is about forks, and GitHub refuses it on update)
        payload = {"title": title, "head": head, "base": base, "body": body}
        try:
            return _pull(self._call("POST", f"{self._repo}/pulls", body=payload))
        except Unprocessable as exc:
            if not any("already exists" in str(e.get("message", "")) for e in exc.errors):
                raise
        existing = self.find_open_pull(head, base)  # somebody opened it between our look-up and our POST
        if existing is None:
            raise RemoteError(
                f"GitHub says a pull request from {head} already exists, but none is open into {base}"
            )
        return self.update_pull(existing.number, title=title, body=body)

    def update_pull(self, number: int, *, title: str | None = None, body: str | None = None) -> PullRequest:
        payload = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
        return _pull(
            self._call(
                "PATCH", f"{self._repo}/pulls/{int(number)}", body=payload, missing=f"pull request #{number}"
            )
        )

    def get_pull(self, number: int) -> PullRequest:
        return _pull(
            self._call("GET", f"{self._repo}/pulls/{int(number)}", missing=f"pull request #{number}")
        )

    def pulls_for_commit(self, sha: str) -> list[PullRequest]:
        if not re.fullmatch(r"[0-9a-f]{40,64}", sha):
            raise UsageError(f"not a commit id: {sha!r}")
        data = self._get_all(f"{self._repo}/commits/{sha}/pulls", missing=f"commit {sha[:12]}")
        return [_pull(p) for p in data]

    def compare_url(self, base: str, head: str) -> str:
        return compare_url(self.target, base, head)

    # -- HTTP --------------------------------------------------------------------------------------
    @property
    def _repo(self) -> str:
        return f"/repos/{self.target.owner}/{self.target.repo}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        missing: str | None = None,
    ) -> Any:
        url = self.target.api_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        return self._request(method, url, body, missing)[0]

    def _get_all(
        self, path: str, query: Mapping[str, str] | None = None, missing: str | None = None
    ) -> list[Any]:
        """Every page of a list: 100 a page, following GitHub's `Link: <…>; rel="next"` (same host
        only), at most MAX_PAGES pages."""
        url = self.target.api_url + path + "?" + urllib.parse.urlencode({**(query or {}), "per_page": "100"})
        out: list[Any] = []
        for _ in range(MAX_PAGES):
            data, headers = self._request("GET", url, None, missing)
            out.extend(_expect_list(data))
            following = next_link(headers.get("Link") or "")
            if following is None:
                return out
            url = urllib.parse.urljoin(url, following)
            self._same_origin(url, f"GET {path}", "a next page")
        raise RemoteError(
            f"GitHub answered GET {path} with more than {MAX_PAGES} pages; mreg reads no further"
        )

    def _request(
        self, method: str, url: str, body: Mapping[str, Any] | None, missing: str | None
    ) -> tuple[Any, Any]:
        """One call, as GitHub documents its use: redirects followed with the same method and body to
        the same host (at most MAX_REDIRECTS), rate limits waited out when the wait is short
        (MREG_GITHUB_WAIT, in all), 5xx and broken connections retried with backoff; then the JSON
        answer and its headers."""
        where = f"{method} {urllib.parse.urlsplit(url).path} on {self.target.api_url}"
        data = json.dumps(body).encode() if body is not None else None
        budget = ratelimit.backoff_base(WAIT_ENV, DEFAULT_MAX_WAIT)
        base = ratelimit.backoff_base(BACKOFF_ENV, 1.0)
        waited, attempt, hops = 0.0, 0, 0
        while True:
            attempt += 1
            deadline = time.monotonic() + TIMEOUT_SECONDS
            try:
                with self._opener.open(self._prepare(method, url, data), timeout=TIMEOUT_SECONDS) as resp:
                    raw = _read(resp, MAX_ANSWER_BYTES + 1, deadline, where)
                    headers = resp.headers
                break
            except urllib.error.HTTPError as exc:
                try:
                    answer = _Answer.of(exc, deadline, where)
                finally:
                    exc.close()
                if answer.code in REDIRECTS:
                    hops += 1
                    url, method, data = self._redirect(answer, url, method, data, where, hops)
                    attempt -= 1  # following a redirect is not a failed attempt
                    continue
                wait = self._retry_wait(answer, where, attempt, waited, budget, base)
                if wait is None:
                    raise self._http_error(answer, where, missing) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                # a refused connection, an unknown host, a certificate: no retry will change that
                if attempt >= ATTEMPTS or isinstance(
                    reason, (ConnectionRefusedError, socket.gaierror, ssl.SSLError)
                ):
                    raise RemoteError(
                        f"cannot reach the GitHub API at {self.target.api_url}: {_cut(str(reason), 200)}",
                        hint="check the network and GITHUB_API_URL",
                    ) from None
                wait = ratelimit.backoff(base, attempt)
            except http.client.HTTPException as exc:  # a status line, a header or a chunk that is not HTTP
                raise RemoteError(
                    f"{where}: the answer is not HTTP mreg can read ({type(exc).__name__})",
                    hint="a proxy or server in the way of the GitHub API? check GITHUB_API_URL",
                ) from None
            waited += wait
            self._sleep(wait)
        if len(raw) > MAX_ANSWER_BYTES:
            raise RemoteError(f"{where}: the answer is larger than {MAX_ANSWER_BYTES} bytes")
        if not raw:
            return None, headers
        try:
            return json.loads(raw), headers
        except (ValueError, RecursionError):
            raise RemoteError(f"{where}: the answer is not JSON it can read") from None

    def _prepare(self, method: str, url: str, data: bytes | None) -> urllib.request.Request:
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", API_VERSION)
        req.add_header("Authorization", f"Bearer {self.target.token}")
        req.add_header("User-Agent", f"mreg/{__version__}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        return req

    def _redirect(
        self, answer: _Answer, url: str, method: str, data: bytes | None, where: str, hops: int
    ) -> tuple[str, str, bytes | None]:
        """Where a 3xx sends the request, and how: GitHub says to repeat the request at `Location`
        (301 for a renamed repository, 302/307 for temporary moves; 303 means GET)."""
        location = answer.headers.get("Location") or ""
        if not location:
            raise RemoteError(
                f"GitHub answered {answer.code} to {where} without saying where to go (no Location)"
            )
        if hops > MAX_REDIRECTS:
            raise RemoteError(f"GitHub redirected {where} more than {MAX_REDIRECTS} times; mreg stops there")
        following = urllib.parse.urljoin(url, location)
        self._same_origin(following, where, "a redirect")
        if answer.code == 303:
            return following, "GET", None
        return following, method, data

    def _same_origin(self, url: str, where: str, what: str) -> None:
        """The token goes only where GITHUB_API_URL (or the host) said: never to another scheme or host,
        nor to a URL http.client cannot put in a request line (a space, a control or non-ASCII character)."""
        if not _SENDABLE.match(url):
            raise RemoteError(
                f"GitHub answered {where} with {what} to a URL that cannot be sent (spaces, control or "
                "non-ASCII characters); mreg does not follow it"
            )
        mine, there = urllib.parse.urlsplit(self.target.api_url), urllib.parse.urlsplit(url)
        if (mine.scheme, mine.netloc.lower()) != (there.scheme, there.netloc.lower()):
            shown = _cut(f"{there.scheme}://{there.hostname or ''}", 120)
            raise RemoteError(
                f"GitHub answered {where} with {what} to another host ({shown}); mreg sends the token only to "
                f"{self.target.api_url}"
            )

    def _retry_wait(
        self, answer: _Answer, where: str, attempt: int, waited: float, budget: float, base: float
    ) -> float | None:
        """Seconds to wait before trying again; None: not worth retrying (the caller reports it).
        A rate limit whose wait does not fit the budget ends here, exit 6, naming when to retry."""
        if ratelimit.is_rate_limit(answer.code, answer.headers, answer.message):
            secondary = "secondary" in answer.message.lower() or not ratelimit.exhausted(answer.headers)
            now = time.time()
            wait = ratelimit.limit_wait(
                answer.headers,
                now,
                secondary_default=ratelimit.SECONDARY_DEFAULT_WAIT if secondary else None,
            )
            if wait is None:  # a 429 that names no time: back off as for a 5xx
                wait = ratelimit.backoff(base, attempt)
            if attempt >= ATTEMPTS or waited + wait > budget:
                raise self._rate_limited(answer, where, now + wait, wait, budget)
            return wait
        if answer.code in RETRIED and attempt < ATTEMPTS:
            return ratelimit.backoff(base, attempt)
        return None

    def _rate_limited(
        self, answer: _Answer, where: str, until: float, wait: float, budget: float
    ) -> RemoteError:
        kind = (
            "secondary rate limit"
            if "secondary" in answer.message.lower() or not ratelimit.exhausted(answer.headers)
            else "rate limit"
        )
        when = datetime.fromtimestamp(round(until), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return RemoteError(
            f"GitHub's {kind} stopped {where} ({answer.code}"
            + (f" {_cut(answer.message, 120)}" if answer.message else "")
            + f"); retry after {when} (in {_duration(wait)})",
            hint=f"mreg waits out at most {budget:g} s of rate limits by itself ({WAIT_ENV}); nothing was changed by this call",
        )

    def _http_error(self, answer: _Answer, where: str, missing: str | None) -> MregError:
        message = _cut(answer.message, 200)
        detail = answer.detail
        slug = self.target.slug
        if answer.code == 401:
            return RemoteError(
                f"GitHub rejected the token (401 {message or 'Bad credentials'}) for {slug}",
                hint="GITHUB_TOKEN/GH_TOKEN is wrong or expired; create a new one",
            )
        if answer.code == 403:
            return RemoteError(
                f"GitHub refused access to {slug} (403 {message or 'Forbidden'})",
                hint="the token needs 'contents: write' and 'pull-requests: write' on this repository",
            )
        if answer.code == 404:
            if missing:
                return NotFoundError(f"GitHub has no {missing} in {slug} (404)")
            return RemoteError(
                f"GitHub repository {slug} not found at {self.target.api_url}, or the token cannot see it (404)",
                hint="check GITHUB_REPOSITORY (or the remote URL) and the token's repository access",
            )
        if answer.code == 422:
            errors = detail.get("errors") if isinstance(detail, dict) else None
            errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
            first = next((_describe(e) for e in errors if e.get("message") or e.get("code")), "")
            text = (
                f"GitHub refused {where} (422 {message or 'Validation Failed'}"
                + (f": {_cut(first, 200)}" if first else "")
                + ")"
            )
            return Unprocessable(text, errors)
        if answer.code in REDIRECTS:
            return RemoteError(f"GitHub answered {answer.code} to {where} and mreg could not follow it")
        return RemoteError(f"GitHub answered {answer.code} {message} to {where}".replace("  ", " "))


@dataclass(frozen=True)
class _Answer:
    """A non-2xx answer, read once and bounded: status, headers, GitHub's JSON `message` and document."""

    code: int
    headers: Any
    message: str
    detail: Any

    @classmethod
    def of(cls, exc: urllib.error.HTTPError, deadline: float, where: str) -> _Answer:
        try:
            raw = _read(exc, 65536, deadline, where) or b"{}"
        except (OSError, ValueError, http.client.HTTPException):
            raw = b"{}"
        try:
            detail = json.loads(raw)
        except (ValueError, RecursionError):
            detail = {}
        message = (
            str(detail.get("message") or exc.reason or "")
            if isinstance(detail, dict)
            else str(exc.reason or "")
        )
        return cls(exc.code, exc.headers, message.strip(), detail)


def _read(stream: Any, limit: int, deadline: float, where: str) -> bytes:
    """At most `limit` bytes of an answer, a chunk at a time, given up at `deadline` (time.monotonic):
    the socket's timeout bounds each read, this bounds the whole answer however slowly it trickles in."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        if time.monotonic() > deadline:
            raise RemoteError(
                f"{where}: GitHub took more than {TIMEOUT_SECONDS:g} s to answer; mreg stopped waiting",
                hint="try again later",
            )
        chunk = stream.read1(min(_CHUNK, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def next_link(header: str) -> str | None:
    """The `rel="next"` URL of a `Link` header (RFC 8288, as GitHub sends it); None on the last page."""
    for part in header[:8192].split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)\Z", part, re.S)
        if m and re.search(r'\brel="?([^";]*\s)?next(\s[^";]*)?"?', m.group(2)):
            return m.group(1)
    return None


def _cut(text: str, limit: int) -> str:
    """Text from GitHub, bounded (the CLI escapes control characters wherever it shows it)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(seconds: float) -> str:
    s = math.ceil(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{(s + 59) // 60} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is handed back as an answer (an HTTPError), for _request to follow as GitHub says."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _describe(error: dict[str, Any]) -> str:
    """One of GitHub's validation errors: its message, or `field code` (e.g. `head invalid`)."""
    if error.get("message"):
        return str(error["message"])
    return " ".join(str(error[k]) for k in ("field", "code") if error.get(k))


def compare_url(target: GitHubTarget, base: str, head: str) -> str:
    """The page that offers to open a pull request from `head` into `base`."""
    q = urllib.parse.quote
    return f"{target.server_url}/{target.owner}/{target.repo}/compare/{q(base, safe='/')}...{q(head, safe='/')}?quick_pull=1"


def _expect_list(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise RemoteError("GitHub answered with something other than a list of pull requests")
    return [d for d in data if isinstance(d, dict)]


def _pull(data: Any) -> PullRequest:
    try:
        return PullRequest(
            number=int(data["number"]),
            url=str(data["html_url"]),
            head=str(data["head"]["ref"]),
            base=str(data["base"]["ref"]),
            state=str(data["state"]),
            merged=bool(data.get("merged") or data.get("merged_at")),
            merge_commit=data.get("merge_commit_sha"),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise RemoteError("GitHub answered with a pull request mreg cannot read") from None


def forge_for(
    remote_url: str | None, env: Mapping[str, str] | None = None
) -> tuple[GitHubTarget | None, GitHubForge | None]:
    """The target (for URLs) and a client when a token is available; (None, None) off GitHub."""
    target = target_from_env(remote_url, env)
    if target is None or not target.token:
        return target, None
    return target, GitHubForge(target)
