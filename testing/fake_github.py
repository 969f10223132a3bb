"""A small, strict stand-in for GitHub's REST API, backed by a real bare git repository.

It implements exactly the endpoints mreg calls, with the request and response shapes of GitHub's
REST documentation (API version 2022-11-28) and its error bodies: 401 "Bad credentials", 403,
404 "Not Found", 422 "Validation Failed" (including "A pull request already exists for o:branch.").
It is stricter than GitHub in one way: unknown body fields and query parameters are refused, so a
typo in the client cannot pass here and fail there. Merges are real `git merge --no-ff` runs pushed
to the bare repository, so branch → PR → merge → apply → tag is tested end to end.

Endpoints: pulls (list, create, get, update, merge), the pulls of a commit, and
`POST /repos/{owner}/{repo}/dispatches` ("Create a repository dispatch event", which `mreg notify`'s
github-dispatch outlets call): body `{"event_type": str (1-100 characters), "client_payload": object
(at most 10 top-level properties)}`, the whole JSON under 64 KB; a write token; answers 204 with no
body and records `{"event_type", "client_payload"}` in `dispatches`. A payload over those limits gets
422 in the shape of GitHub's schema-validation errors ("Invalid request.\n\n...").

This is a contract double, not GitHub: label tests that use it "against the documented API".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DOCS = "https://docs.github.com/rest"
API_VERSIONS = {"2022-11-28", "2026-03-10"}
_PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$")
_PULL = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)$")
_MERGE = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)/merge$")
_COMMIT_PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/commits/([0-9a-f]{7,64})/pulls$")
_DISPATCHES = re.compile(r"^/repos/([^/]+)/([^/]+)/dispatches$")
DISPATCH_MAX_PROPERTIES = 10  # client_payload's top-level properties (REST docs, maxProperties)
DISPATCH_MAX_BYTES = 64 * 1024  # "The total size of the JSON payload must be less than 64KB"


class HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, message: str, **extra: Any) -> HttpError:
    return HttpError(status, {"message": message, "documentation_url": DOCS, "status": str(status), **extra})


def _validation(*errors: dict[str, Any]) -> HttpError:
    return _error(422, "Validation Failed", errors=list(errors))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
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
        try:
            if body is ValueError:
                raise _error(400, "Problems parsing JSON")
            if _DISPATCHES.match(split.path) and length >= DISPATCH_MAX_BYTES:
                raise _error(
                    422, f"Invalid request.\n\nThe payload is {length} bytes; it must be less than 64KB."
                )
            status, payload = self._route(method, split.path, query, body, h.headers)
        except HttpError as exc:
            status, payload = exc.status, exc.body
        data = b"" if status == 204 else json.dumps(payload).encode()
        h.send_response(status)
        if data:
            h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

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
            return 200, self._for_commit(m.group(3))
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

    def _get(self, number: int) -> dict[str, Any]:
        pr = self.pulls.get(number)
        if pr is None:
            raise _error(404, "Not Found")
        return pr

    def _list(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
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
        return out

    def _create(self, body: Any) -> dict[str, Any]:
        self._fields(
            body,
            {"title", "head", "base", "body", "maintainer_can_modify", "draft", "issue", "head_repo"},
            "PullRequest",
        )
        for name in ("head", "base", "title"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _validation({"resource": "PullRequest", "field": name, "code": "missing_field"})
        if "body" in body and not isinstance(body["body"], (str, type(None))):
            raise _validation({"resource": "PullRequest", "field": "body", "code": "invalid"})
        head, base = body["head"].split(":")[-1], body["base"]
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
            }
            return self._view(self.pulls[number])

    def _update(self, number: int, body: Any) -> dict[str, Any]:
        self._fields(body, {"title", "body", "state", "base", "maintainer_can_modify"}, "PullRequest")
        with self._lock:
            pr = self._get(number)
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
        """GitHub: the merged PR that introduced the commit when it is on the default branch; else open PRs containing it."""
        default = self._sha(self.default_branch)
        on_default = (
            default is not None
            and subprocess.run(
                ["git", "merge-base", "--is-ancestor", sha, default], cwd=self.bare, capture_output=True
            ).returncode
            == 0
        )
        out = []
        for pr in self.pulls.values():
            if (on_default and pr["merge_commit_sha"] == sha) or (
                pr["state"] == "open"
                and pr["head"]["sha"]
                and subprocess.run(
                    ["git", "merge-base", "--is-ancestor", sha, pr["head"]["sha"]],
                    cwd=self.bare,
                    capture_output=True,
                ).returncode
                == 0
            ):
                out.append(self._view(pr, listing=True))
        return out

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
