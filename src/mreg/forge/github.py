"""GitHub's REST API for the review flow (SPEC §7), on stdlib urllib: no new dependency, ~5 calls.

Token from GITHUB_TOKEN or GH_TOKEN, API base from GITHUB_API_URL (Actions sets it; it also makes
GHES and the test server work), owner/repo from GITHUB_REPOSITORY or the remote's URL. The token is
sent only in the Authorization header and never appears in a message.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mreg._version import __version__
from mreg.errors import MregError, NotFoundError, RemoteError, UsageError
from mreg.ports import PullRequest

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
TIMEOUT_SECONDS = 30.0
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+\Z")
# https://github.com/o/r(.git), ssh://git@host[:port]/o/r(.git), git@host:o/r(.git)
_URL_FORMS = (
    re.compile(
        r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?\Z"
    ),
    re.compile(r"^(?:[^@/]+@)?(?P<host>[^/:]+):(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?\Z"),
)


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
    return GitHubTarget(owner, repo, api.rstrip("/"), server.rstrip("/"), token_from_env(env))


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

    def __init__(self, target: GitHubTarget) -> None:
        if not target.token:
            raise UsageError("no GitHub token", hint="set GITHUB_TOKEN or GH_TOKEN")
        self.target = target

    # -- the Forge protocol ------------------------------------------------------------------------
    def find_open_pull(self, head: str, base: str) -> PullRequest | None:
        return next(iter(self.list_pulls(head, base, state="open")), None)

    def list_pulls(self, head: str, base: str, *, state: str = "all") -> list[PullRequest]:
        query = {"state": state, "head": f"{self.target.owner}:{head}", "base": base}
        data = self._call("GET", f"{self._repo}/pulls", query=query)
        return [p for p in (_pull(d) for d in _expect_list(data)) if p.head == head and p.base == base]

    def create_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        payload = {"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": True}
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
        data = self._call("GET", f"{self._repo}/commits/{sha}/pulls", missing=f"commit {sha[:12]}")
        return [_pull(p) for p in _expect_list(data)]

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
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", API_VERSION)
        req.add_header("Authorization", f"Bearer {self.target.token}")
        req.add_header("User-Agent", f"mreg/{__version__}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        where = f"{method} {path} on {self.target.api_url}"
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, where, missing) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(
                f"cannot reach the GitHub API at {self.target.api_url}: {reason}",
                hint="check the network and GITHUB_API_URL",
            ) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise RemoteError(f"{where}: the answer is not JSON it can read") from None

    def _http_error(self, exc: urllib.error.HTTPError, where: str, missing: str | None) -> MregError:
        try:
            detail = json.loads(exc.read(65536) or b"{}")
        except (ValueError, RecursionError):
            detail = {}
        message = str(detail.get("message") or exc.reason or "").strip() if isinstance(detail, dict) else ""
        slug = self.target.slug
        if exc.code == 401:
            return RemoteError(
                f"GitHub rejected the token (401 {message or 'Bad credentials'}) for {slug}",
                hint="GITHUB_TOKEN/GH_TOKEN is wrong or expired; create a new one",
            )
        if exc.code == 403:
            return RemoteError(
                f"GitHub refused access to {slug} (403 {message or 'Forbidden'})",
                hint="the token needs 'contents: write' and 'pull-requests: write' on this repository",
            )
        if exc.code == 404:
            if missing:
                return NotFoundError(f"GitHub has no {missing} in {slug} (404)")
            return RemoteError(
                f"GitHub repository {slug} not found at {self.target.api_url}, or the token cannot see it (404)",
                hint="check GITHUB_REPOSITORY (or the remote URL) and the token's repository access",
            )
        if exc.code == 422:
            errors = detail.get("errors") if isinstance(detail, dict) else None
            errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
            first = next((_describe(e) for e in errors if e.get("message") or e.get("code")), "")
            text = (
                f"GitHub refused {where} (422 {message or 'Validation Failed'}"
                + (f": {first}" if first else "")
                + ")"
            )
            return Unprocessable(text, errors)
        return RemoteError(f"GitHub answered {exc.code} {message or exc.reason} to {where}")


def _describe(error: dict[str, Any]) -> str:
    """One of GitHub's validation errors: its message, or `field code` (e.g. `head invalid`)."""
    if error.get("message"):
        return str(error["message"])
    return " ".join(str(error[k]) for k in ("field", "code") if error.get(k))


def compare_url(target: GitHubTarget, base: str, head: str) -> str:
    """The page that offers to open a pull request from `head` into `base`."""
    q = urllib.parse.quote
    return f"{target.server_url}/{target.owner}/{target.repo}/compare/{q(base, safe='/')}...{q(head, safe='/')}?expand=1"


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
