"""A small, strict stand-in for GitHub's REST API, backed by a real bare git repository.

It implements exactly the endpoints mreg calls, with the request and response shapes of GitHub's
REST documentation (API version 2022-11-28, `github/rest-api-description` and `github/docs`) and
its error bodies. It is a contract double, not GitHub: label tests that use it "against the
documented API". Merges are real `git merge --no-ff` runs pushed to the bare repository, so
branch → PR → merge → apply → tag is tested end to end.

Endpoints and shapes:

- `GET /repos/{o}/{r}/pulls` (`state`, `head` = `owner:branch`, `base`, `sort`, `direction`,
  `per_page`, `page`): pull-request objects, newest first, without the single-PR-only fields
  (`merged`, `mergeable`, `maintainer_can_modify`, ...).
- `POST /repos/{o}/{r}/pulls` (`title`, `head`, `base`, `body`, `draft`, ...) → 201 with the
  pull request; `PATCH /repos/{o}/{r}/pulls/{n}` (`title`, `body`, `state`, `base`) → 200;
  `GET /repos/{o}/{r}/pulls/{n}`; `PUT /repos/{o}/{r}/pulls/{n}/merge` (also `merge()` directly).
- `GET /repos/{o}/{r}/commits/{sha}/pulls`: as documented, "the merged pull request that
  introduced the commit" when the commit is on the default branch, else "merged and open pull
  requests associated with the commit" (closed, unmerged ones never).
- `POST /repos/{o}/{r}/dispatches` ("Create a repository dispatch event", which `mreg notify`'s
  github-dispatch outlets call): body `{"event_type": str (1-100 characters), "client_payload":
  object (at most 10 top-level properties)}`, the whole JSON under 64 KB; a write token; answers
  204 with no body and records `{"event_type", "client_payload"}` in `dispatches`.

As strict as GitHub (each from its docs, or from the 422 GitHub returns):

- every request needs a `User-Agent` (403, "Request forbidden by administrative rules", plain
  text, without one); a token in `Authorization: Bearer|token` (401 "Requires authentication" /
  "Bad credentials"); a write token for POST/PATCH/PUT (403 "Resource not accessible by personal
  access token"); a known `X-GitHub-Api-Version` (400).
- lists are paged: 30 a page by default, `per_page` at most 100, a `Link` header with `next`,
  `last`, `first` and `prev` as GitHub sends it.
- every answer carries `x-ratelimit-limit/remaining/used/reset/resource`; `rate_limit` requests
  an hour (None: unlimited) — past it, 403 "API rate limit exceeded" with `x-ratelimit-remaining: 0`.
- a pull request's `body` is a string of at most 65,536 characters: longer is GitHub's 422
  "body is too long (maximum is 65536 characters)"; `null` where the schema says string (title,
  body, head, base) is the schema-validation 422 ("Invalid request. ... is not a string").
- `maintainer_can_modify` is about heads in forks: for a head in the same repository it is refused
  (422) on update, as GitHub does, and — stricter than GitHub — on create as well.
- `rename(owner, repo)`: the old name answers `301 Moved Permanently` with `Location:
  {url}/repositories/{id}/...`, which serves the repository, as after a rename on GitHub.
- stricter than GitHub: unknown body fields and query parameters are refused (422), so a typo in
  the client cannot pass here and fail there.

Failures to inject (`fail()`, consumed in order by the requests they match): any status with
GitHub's body for it, or the ready-made `rate_limited()` (primary 403/429, secondary 403 with
`retry-after` and GitHub's message), `moved()` (a 301/302/307 to a temporary path on the same
server, or to another host), 5xx. Every request is recorded in `requests`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"
API_VERSIONS = {"2022-11-28", "2026-03-10"}
_PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$")
_PULL = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)$")
_MERGE = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)/merge$")
_COMMIT_PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/commits/([0-9a-f]{7,64})/pulls$")
_DISPATCHES = re.compile(r"^/repos/([^/]+)/([^/]+)/dispatches$")
_BY_ID = re.compile(r"^/repositories/(\d+)(/.*)?$")
_TEMPORARY = "/_temporary"  # where moved() sends a 302/307: serves the same API
BODY_MAX = 65_536  # GitHub: "body is too long (maximum is 65536 characters)"
PER_PAGE_DEFAULT, PER_PAGE_MAX = 30, 100
REPO_ID = 1
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you "
    "reach out to GitHub Support for help, please include the request ID 0000:FAKE."
)
NO_USER_AGENT = (
    "Request forbidden by administrative rules. Please make sure your request has a User-Agent header "
    "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check "
    "https://developer.github.com for other possible causes."
)
DISPATCH_MAX_PROPERTIES = 10  # client_payload's top-level properties (REST docs, maxProperties)
DISPATCH_MAX_BYTES = 64 * 1024  # "The total size of the JSON payload must be less than 64KB"


class HttpError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body  # a dict (sent as JSON) or a str (sent as text/plain)
        self.headers = headers or {}


@dataclass
class Fault:
    """An injected answer: the next `times` requests whose method is in `methods` (empty: any) and
    whose path matches `path` (a regular expression, searched) get `status`, `headers`, `body`."""

    status: int
    path: str = ""
    methods: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (not self.methods or method in self.methods) and re.search(self.path, path) is not None


def _error(status: int, message: str, **extra: Any) -> HttpError:
    return HttpError(status, {"message": message, "documentation_url": DOCS, "status": str(status), **extra})


def _validation(*errors: dict[str, Any]) -> HttpError:
    return _error(422, "Validation Failed", errors=list(errors))


def _fork_only() -> HttpError:
    return _validation(
        {
            "resource": "PullRequest",
            "code": "custom",
            "field": "maintainer_can_modify",
            "message": "Fork collab can't be granted for a pull request from the same repository",
        }
    )


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Page:
    """One page of a list and where the others are: GitHub's `Link` header."""

    items: list[Any]
    page: int
    last: int

    @classmethod
    def of(cls, items: list[Any], query: dict[str, list[str]]) -> Page:
        try:
            per_page = min(PER_PAGE_MAX, max(1, int(query.get("per_page", [PER_PAGE_DEFAULT])[0])))
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            raise _validation({"resource": "Search", "field": "per_page", "code": "invalid"}) from None
        last = max(1, -(-len(items) // per_page))
        return cls(items[(page - 1) * per_page : page * per_page], page, last)

    def link(self, url: str, query: dict[str, list[str]]) -> dict[str, str]:
        if self.last == 1:
            return {}

        def to(page: int) -> str:
            q = {k: v[0] for k, v in query.items()}
            q["page"] = str(page)
            return f"<{url}?{urlencode(q)}>"

        rels = []
        if self.page < self.last:
            rels += [f'{to(self.page + 1)}; rel="next"', f'{to(self.last)}; rel="last"']
        if self.page > 1:
            rels += [f'{to(1)}; rel="first"', f'{to(self.page - 1)}; rel="prev"']
        return {"Link": ", ".join(rels)}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names: HTTP header names are case-insensitive
    body: Any


@dataclass
class FakeGitHub:
    """Serve on 127.0.0.1:<free port>; `tokens` maps a token to "write" or "read"."""

    bare: Path
    owner: str = "acme"
    repo: str = "models"
    tokens: dict[str, str] = field(default_factory=lambda: {"t0ken": "write"})
    default_branch: str = "main"
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)  # repository_dispatch events received
    rate_limit: int | None = None  # requests an hour before the primary limit's 403; None: unlimited
    faults: list[Fault] = field(default_factory=list)
    renamed_from: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.used = 0
        self.reset_at = int(time.time()) + 3600
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self, method: str) -> None:
                fake._handle(self, method)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a short poll: stop() waits for the loop to notice, 0.5 s by default, after every test
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def html_base(self) -> str:
        return "https://github.example"

    def env(self, token: str | None = "t0ken") -> dict[str, str]:
        """The variables GitHub Actions would set, pointed at this server."""
        env = {
            "GITHUB_API_URL": self.url,
            "GITHUB_SERVER_URL": self.html_base,
            "GITHUB_REPOSITORY": f"{self.owner}/{self.repo}",
        }
        if token:
            env["GITHUB_TOKEN"] = token
        return env

    # -- injected failures and moves --------------------------------------------------------------
    def fail(
        self,
        status: int,
        path: str = "",
        *,
        methods: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> Fault:
        """Answer the next `times` matching requests with `status` (body: GitHub's for that status)."""
        if body is None:
            message = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
                status, "Error"
            )
            body = {"message": message, "documentation_url": DOCS, "status": str(status)}
        fault = Fault(status, path, methods, dict(headers or {}), body, times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def rate_limited(
        self,
        kind: str = "primary",
        *,
        path: str = "",
        methods: tuple[str, ...] = (),
        retry_after: int | None = None,
        reset_in: int = 3600,
        status: int = 403,
        times: int = 1,
    ) -> Fault:
        """GitHub's rate-limit answers: `primary` (403 or 429, `x-ratelimit-remaining: 0`, reset in
        `reset_in` s; a negative `reset_in` is a reset already past) or `secondary` (its message,
        `retry-after` when given, remaining left as it is)."""
        reset = int(time.time()) + reset_in
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }
        if kind == "primary":
            headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-used": "5000"})
            message = "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE."
        elif kind == "secondary":
            headers.update({"x-ratelimit-remaining": "4000", "x-ratelimit-used": "1000"})
            message = SECONDARY_MESSAGE
        else:
            raise ValueError(kind)
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        body = {
            "message": message,
            "documentation_url": f"{DOCS}/using-the-rest-api/rate-limits-for-the-rest-api",
            "status": str(status),
        }
        return self.fail(status, path, methods=methods, headers=headers, body=body, times=times)

    def moved(
        self,
        status: int = 307,
        path: str = "",
        *,
        methods: tuple[str, ...] = (),
        to: str | None = None,
        times: int = 1,
    ) -> Fault:
        """A redirect: to the same request under a temporary path of this server (served like the
        original), or to `to` (a base URL: another host) when given."""
        return self.fail(status, path, methods=methods, headers={"Location": to or ""}, body={}, times=times)

    def rename(self, owner: str, repo: str) -> None:
        """The repository's new name; the old one answers 301 to `/repositories/{id}/...`."""
        with self._lock:
            self.renamed_from = (self.owner, self.repo)
            self.owner, self.repo = owner, repo

    # -- git ---------------------------------------------------------------------------------------
    def _git(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd or self.bare,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def _sha(self, branch: str) -> str | None:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.bare,
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip() or None

    def merge(self, number: int, *, method: str = "merge") -> str:
        """Merge a pull request for real: a temporary clone merges the head into the base and pushes."""
        with self._lock:
            pr = self.pulls[number]
            if pr["state"] != "open":
                raise HttpError(
                    405,
                    {"message": "Pull Request is not mergeable", "documentation_url": DOCS, "status": "405"},
                )
            head, base = pr["head"]["ref"], pr["base"]["ref"]
        with tempfile.TemporaryDirectory(prefix="fake-gh-merge-") as tmp:
            work = Path(tmp) / "w"
            self._git("clone", "--quiet", "--no-checkout", str(self.bare), str(work), cwd=Path(tmp))
            self._git("checkout", "--quiet", "-B", base, f"origin/{base}", cwd=work)
            if method == "squash":
                # GitHub's default squash message: the PR title, then the squashed commits' messages.
                messages = self._git("log", "--format=%B", f"origin/{base}..origin/{head}", cwd=work)
                self._git("merge", "--squash", f"origin/{head}", cwd=work)
                self._git("commit", "--quiet", "-m", f"{pr['title']} (#{number})\n\n{messages}", cwd=work)
            else:
                self._git(
                    "merge",
                    "--quiet",
                    "--no-ff",
                    "-m",
                    f"Merge pull request #{number} from {self.owner}/{head}\n\n{pr['title']}",
                    f"origin/{head}",
                    cwd=work,
                )
            sha = self._git("rev-parse", "HEAD", cwd=work)
            self._git("push", "--quiet", "origin", f"{base}:refs/heads/{base}", cwd=work)
        with self._lock:
            pr.update(
                state="closed",
                merged=True,
                merged_at=_now(),
                closed_at=_now(),
                merge_commit_sha=sha,
                updated_at=_now(),
            )
            pr["base"]["sha"] = sha
        return sha

    # -- events (what Actions hands a workflow in GITHUB_EVENT_PATH) --------------------------------
    def pull_request_event(self, number: int, action: str = "opened") -> dict[str, Any]:
        pr = self._view(self.pulls[number])
        return {
            "action": action,
            "number": number,
            "pull_request": pr,
            "repository": self._repo_json(),
            "sender": {"login": "octocat"},
        }

    def push_event(self, ref: str, before: str, after: str) -> dict[str, Any]:
        return {
            "ref": ref,
            "before": before,
            "after": after,
            "created": False,
            "deleted": False,
            "forced": False,
            "repository": self._repo_json(),
            "pusher": {"name": "octocat"},
            "sender": {"login": "octocat"},
        }

    def _repo_json(self) -> dict[str, Any]:
        return {
            "id": 1,
            "name": self.repo,
            "full_name": f"{self.owner}/{self.repo}",
            "owner": {"login": self.owner},
            "html_url": f"{self.html_base}/{self.owner}/{self.repo}",
            "default_branch": self.default_branch,
        }

    # -- HTTP --------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(h.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = ValueError
        self.requests.append(
            Recorded(method, split.path, query, {k.lower(): v for k, v in h.headers.items()}, body)
        )
        extra: dict[str, str] = {}
        try:
            if not h.headers.get("User-Agent"):
                raise HttpError(403, NO_USER_AGENT)
            self._fault(method, split)
            path = split.path[len(_TEMPORARY) :] if split.path.startswith(_TEMPORARY + "/") else split.path
            path = self._renamed(path, split.query)
            extra = self._count(h.headers)
            if body is ValueError:
                raise _error(400, "Problems parsing JSON")
            if _DISPATCHES.match(path) and length >= DISPATCH_MAX_BYTES:
                raise _error(
                    422, f"Invalid request.\n\nThe payload is {length} bytes; it must be less than 64KB."
                )
            status, payload = self._route(method, path, query, body, h.headers)
            if isinstance(payload, Page):
                extra.update(payload.link(f"{self.url}{split.path}", query))
                payload = payload.items
        except HttpError as exc:
            status, payload = exc.status, exc.body
            extra.update(exc.headers)
        if status == 204 or (300 <= status < 400 and not payload):
            data, kind = b"", None
        elif isinstance(payload, str):
            data, kind = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(payload).encode(), "application/json; charset=utf-8"
        h.send_response(status)
        if kind:
            h.send_header("Content-Type", kind)
        h.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        for name, value in extra.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _fault(self, method: str, split: Any) -> None:
        with self._lock:
            fault = next((f for f in self.faults if f.times > 0 and f.matches(method, split.path)), None)
            if fault is None:
                return
            fault.times -= 1
        headers = dict(fault.headers)
        if "Location" in headers:  # moved(): the same request, under another base
            base = headers["Location"] or self.url + _TEMPORARY
            path = (
                split.path.removeprefix(_TEMPORARY) if split.path.startswith(_TEMPORARY + "/") else split.path
            )
            headers["Location"] = base + path + (f"?{split.query}" if split.query else "")
        raise HttpError(fault.status, fault.body, headers)

    def _renamed(self, path: str, query: str) -> str:
        """A renamed repository's old path is a 301 to its id; the id's path serves the repository."""
        m = _BY_ID.match(path)
        if m:
            if int(m.group(1)) != REPO_ID:
                raise _error(404, "Not Found")
            return f"/repos/{self.owner}/{self.repo}{m.group(2) or ''}"
        old = self.renamed_from
        if old is not None and path.startswith(f"/repos/{old[0]}/{old[1]}/"):
            rest = path[len(f"/repos/{old[0]}/{old[1]}") :]
            location = f"{self.url}/repositories/{REPO_ID}{rest}" + (f"?{query}" if query else "")
            raise HttpError(
                301,
                {"message": "Moved Permanently", "url": location, "documentation_url": DOCS},
                {"Location": location},
            )
        return path

    def _count(self, headers: Any) -> dict[str, str]:
        """The primary rate limit: every authenticated request counts; past `rate_limit`, 403."""
        with self._lock:
            limit = self.rate_limit
            if headers.get("Authorization") and limit is not None:
                self.used += 1
            used = self.used
        out = {
            "x-ratelimit-limit": str(limit if limit is not None else 5000),
            "x-ratelimit-remaining": str(max(0, (limit if limit is not None else 5000) - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self.reset_at),
            "x-ratelimit-resource": "core",
        }
        if limit is not None and used > limit:
            raise HttpError(
                403,
                {
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": f"{DOCS}/using-the-rest-api/rate-limits-for-the-rest-api",
                    "status": "403",
                },
                out,
            )
        return out

    def _auth(self, headers: Any, write: bool) -> None:
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if not auth:
            raise _error(401, "Requires authentication")
        if scheme not in ("Bearer", "token") or token not in self.tokens:
            raise _error(401, "Bad credentials")
        version = headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            raise _error(400, f"API version '{version}' is not supported.")
        if write and self.tokens[token] != "write":
            raise _error(403, "Resource not accessible by personal access token")

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, headers: Any
    ) -> tuple[int, Any]:
        for pattern in (_PULLS, _PULL, _MERGE, _COMMIT_PULLS, _DISPATCHES):
            m = pattern.match(path)
            if m:
                break
        else:
            raise _error(404, "Not Found")
        self._auth(headers, write=method in ("POST", "PATCH", "PUT"))
        if (m.group(1), m.group(2)) != (self.owner, self.repo):
            raise _error(404, "Not Found")
        if pattern is _PULLS and method == "GET":
            return 200, self._list(query)
        if pattern is _PULLS and method == "POST":
            return 201, self._create(body)
        if pattern is _PULL and method == "GET":
            return 200, self._view(self._get(int(m.group(3))))
        if pattern is _PULL and method == "PATCH":
            return 200, self._update(int(m.group(3)), body)
        if pattern is _MERGE and method == "PUT":
            self._fields(body or {}, {"commit_title", "commit_message", "sha", "merge_method"}, "PullRequest")
            self._get(int(m.group(3)))
            sha = self.merge(int(m.group(3)), method=(body or {}).get("merge_method", "merge"))
            return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
        if pattern is _COMMIT_PULLS and method == "GET":
            self._query(query, {"per_page", "page"})
            return 200, Page.of(self._for_commit(m.group(3)), query)
        if pattern is _DISPATCHES and method == "POST":
            return 204, self._dispatch(body)
        raise _error(404, "Not Found")

    # -- repository_dispatch -----------------------------------------------------------------------
    def _dispatch(self, body: Any) -> None:
        self._fields(body, {"event_type", "client_payload"}, "RepositoryDispatch")
        event_type = body.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise _error(422, 'Invalid request.\n\n"event_type" wasn\'t supplied.')
        if len(event_type) > 100:
            raise _error(422, "Invalid request.\n\nevent_type is too long (maximum is 100 characters).")
        payload = body.get("client_payload", {})
        if not isinstance(payload, dict):
            raise _error(422, "Invalid request.\n\nFor 'properties/client_payload', it is not an object.")
        if len(payload) > DISPATCH_MAX_PROPERTIES:
            raise _error(
                422,
                f"Invalid request.\n\nNo more than {DISPATCH_MAX_PROPERTIES} properties are allowed; "
                f"{len(payload)} were supplied.",
            )
        with self._lock:
            self.dispatches.append({"event_type": event_type, "client_payload": payload})

    # -- pulls -------------------------------------------------------------------------------------
    @staticmethod
    def _query(query: dict[str, list[str]], allowed: set[str]) -> None:
        unknown = sorted(set(query) - allowed)
        if unknown:
            raise _validation({"resource": "Search", "field": unknown[0], "code": "invalid"})

    @staticmethod
    def _fields(body: Any, allowed: set[str], resource: str) -> None:
        if not isinstance(body, dict):
            raise _error(400, "Problems parsing JSON")
        unknown = sorted(set(body) - allowed)
        if unknown:  # stricter than GitHub, which ignores them: a misspelt field must not pass silently
            raise _validation({"resource": resource, "field": unknown[0], "code": "invalid"})

    @staticmethod
    def _strings(body: dict[str, Any], names: tuple[str, ...]) -> None:
        """The schema says string: `null` (or a number) is GitHub's schema-validation 422."""
        for name in names:
            if name in body and not isinstance(body[name], str):
                shown = "nil" if body[name] is None else json.dumps(body[name])
                raise _error(422, f"Invalid request.\n\nFor 'properties/{name}', {shown} is not a string.")

    @staticmethod
    def _body_length(body: dict[str, Any]) -> None:
        if isinstance(body.get("body"), str) and len(body["body"]) > BODY_MAX:
            raise _validation(
                {
                    "resource": "Issue",
                    "code": "custom",
                    "field": "body",
                    "message": f"body is too long (maximum is {BODY_MAX} characters)",
                }
            )

    def _get(self, number: int) -> dict[str, Any]:
        pr = self.pulls.get(number)
        if pr is None:
            raise _error(404, "Not Found")
        return pr

    def _list(self, query: dict[str, list[str]]) -> Page:
        self._query(query, {"state", "head", "base", "sort", "direction", "per_page", "page"})
        state = query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            raise _validation({"resource": "Issue", "field": "state", "code": "invalid"})
        head = query.get("head", [None])[0]
        base = query.get("base", [None])[0]
        out = []
        for pr in sorted(self.pulls.values(), key=lambda p: -p["number"]):
            if state != "all" and pr["state"] != state:
                continue
            if head is not None and pr["head"]["label"] != head:
                continue
            if base is not None and pr["base"]["ref"] != base:
                continue
            out.append(self._view(pr, listing=True))
        return Page.of(out, query)

    def _create(self, body: Any) -> dict[str, Any]:
        self._fields(
            body,
            {"title", "head", "base", "body", "maintainer_can_modify", "draft", "issue", "head_repo"},
            "PullRequest",
        )
        self._strings(body, ("title", "head", "base", "body"))
        for name in ("head", "base", "title"):
            if not body.get(name):
                raise _validation({"resource": "PullRequest", "field": name, "code": "missing_field"})
        self._body_length(body)
        head, base = body["head"].split(":")[-1], body["base"]
        if "maintainer_can_modify" in body and body["head"].partition(":")[0] in (head, self.owner):
            raise _fork_only()  # a head without `owner:`, or this owner's: the same repository
        with self._lock:
            head_sha, base_sha = self._sha(head), self._sha(base)
            if base_sha is None:
                raise _validation({"resource": "PullRequest", "field": "base", "code": "invalid"})
            if head_sha is None:
                raise _validation({"resource": "PullRequest", "field": "head", "code": "invalid"})
            label = f"{self.owner}:{head}"
            if any(
                p["state"] == "open" and p["head"]["label"] == label and p["base"]["ref"] == base
                for p in self.pulls.values()
            ):
                raise _validation(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {label}.",
                    }
                )
            if self._git("rev-list", "--count", f"{base_sha}..{head_sha}") == "0":
                raise _validation(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {head}",
                    }
                )
            number = max(self.pulls, default=0) + 1
            repo = self._repo_json()
            self.pulls[number] = {
                "number": number,
                "state": "open",
                "title": body["title"],
                "body": body.get("body"),
                "draft": bool(body.get("draft", False)),
                "created_at": _now(),
                "updated_at": _now(),
                "closed_at": None,
                "merged_at": None,
                "merged": False,
                "merge_commit_sha": None,
                "head": {
                    "label": label,
                    "ref": head,
                    "sha": head_sha,
                    "repo": repo,
                    "user": {"login": self.owner},
                },
                "base": {
                    "label": f"{self.owner}:{base}",
                    "ref": base,
                    "sha": base_sha,
                    "repo": repo,
                    "user": {"login": self.owner},
                },
                "maintainer_can_modify": bool(body.get("maintainer_can_modify", False)),
                "opened_on": base_sha,
            }
            return self._view(self.pulls[number])

    def _update(self, number: int, body: Any) -> dict[str, Any]:
        self._fields(body, {"title", "body", "state", "base", "maintainer_can_modify"}, "PullRequest")
        self._strings(body, ("title", "body", "state", "base"))
        self._body_length(body)
        with self._lock:
            pr = self._get(number)
            if (
                "maintainer_can_modify" in body
                and pr["head"]["repo"]["full_name"] == pr["base"]["repo"]["full_name"]
            ):
                raise _fork_only()
            if "state" in body and body["state"] not in ("open", "closed"):
                raise _validation({"resource": "PullRequest", "field": "state", "code": "invalid"})
            for key in ("title", "body", "state", "maintainer_can_modify"):
                if key in body:
                    pr[key] = body[key]
            head_sha = self._sha(pr["head"]["ref"])
            if head_sha:
                pr["head"]["sha"] = head_sha
            pr["updated_at"] = _now()
            return self._view(pr)

    def _for_commit(self, sha: str) -> list[dict[str, Any]]:
        """As documented: the merged pull request that introduced the commit when it is on the default
        branch; otherwise the merged and open pull requests associated with it (its merge commit, or
        a commit of its head). Closed, unmerged pull requests are never listed."""
        if self._sha(self.default_branch) is not None and self._contains(self.default_branch, sha):
            merged = [p for p in self.pulls.values() if p["merged"] and self._associated(p, sha)]
            merged.sort(key=lambda p: p["merged_at"] or "")
            return [self._view(p, listing=True) for p in merged[:1]]
        return [
            self._view(p, listing=True)
            for p in sorted(self.pulls.values(), key=lambda p: -p["number"])
            if (p["merged"] or p["state"] == "open") and self._associated(p, sha)
        ]

    def _contains(self, rev: str, sha: str) -> bool:
        return (
            subprocess.run(
                ["git", "merge-base", "--is-ancestor", sha, rev], cwd=self.bare, capture_output=True
            ).returncode
            == 0
        )

    def _associated(self, pr: dict[str, Any], sha: str) -> bool:
        if pr["merge_commit_sha"] == sha:
            return True
        head = pr["head"]["sha"]
        opened_on = pr.get("opened_on") or pr["base"]["sha"]  # the base when it was opened
        return bool(head) and self._contains(head, sha) and not self._contains(opened_on, sha)

    def _view(self, pr: dict[str, Any], *, listing: bool = False) -> dict[str, Any]:
        n = pr["number"]
        api = f"{self.url}/repos/{self.owner}/{self.repo}"
        view = {
            "url": f"{api}/pulls/{n}",
            "id": 1000 + n,
            "node_id": f"PR_fake{n}",
            "html_url": f"{self.html_base}/{self.owner}/{self.repo}/pull/{n}",
            "diff_url": f"{self.html_base}/{self.owner}/{self.repo}/pull/{n}.diff",
            "issue_url": f"{api}/issues/{n}",
            "number": n,
            "state": pr["state"],
            "locked": False,
            "title": pr["title"],
            "user": {"login": "octocat", "id": 1, "type": "User"},
            "body": pr["body"],
            "labels": [],
            "created_at": pr["created_at"],
            "updated_at": pr["updated_at"],
            "closed_at": pr["closed_at"],
            "merged_at": pr["merged_at"],
            "merge_commit_sha": pr["merge_commit_sha"],
            "draft": pr["draft"],
            "head": dict(pr["head"]),
            "base": dict(pr["base"]),
            "author_association": "OWNER",
        }
        if not listing:  # only the single-PR endpoints carry these
            view.update(
                merged=pr["merged"],
                mergeable=None,
                comments=0,
                commits=1,
                maintainer_can_modify=pr["maintainer_can_modify"],
            )
        return view


def push_files(bare: Path, branch: str, files: dict[str, str | None], message: str) -> str:
    """Commit files onto a branch of the bare repository with plain git, as a person would (None deletes)."""
    with tempfile.TemporaryDirectory(prefix="push-files-") as tmp:
        work = Path(tmp) / "w"

        def run(*a):
            return subprocess.run(
                ["git", *a], cwd=work, check=True, capture_output=True, text=True
            ).stdout.strip()

        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(bare), str(work)],
            check=True,
            capture_output=True,
        )
        run("checkout", "--quiet", "-B", branch, f"origin/{branch}")
        for path, text in files.items():
            target = work / path
            if text is None:
                run("rm", "--quiet", path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            run("add", path)
        run("commit", "--quiet", "-m", message)
        run("push", "--quiet", "origin", f"{branch}:refs/heads/{branch}")
        return run("rev-parse", "HEAD")


def branch_sha(bare: Path, branch: str) -> str | None:
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        cwd=bare,
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() or None


def show(bare: Path, spec: str) -> str:
    return subprocess.run(["git", "show", spec], cwd=bare, check=True, capture_output=True, text=True).stdout
