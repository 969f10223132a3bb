"""Review of issue 19 (rev19): mreg's GitHub client attacked as a hostile or misbehaving server and as a
hostile environment/repository config would. Each test reproduces one problem found; a failing test
is a finding, not a flake."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import mreg.forge.github as github
from mreg import ratelimit
from mreg.errors import MregError, RemoteError
from mreg.forge.github import BODY_LIMIT, GitHubForge, GitHubTarget, parse_remote_url, target_from_env
from mreg.integrations import delivery
from mreg.integrations.outlets import OutgoingRequest
from mreg.ops.review import fit_body
from testing.fake_github import branch_sha
from testing.team import Team

pytestmark = pytest.mark.github

BRANCH = "mreg/promote/fraud/production/v2"
QUICK = {"MREG_GITHUB_BACKOFF": "0", "MREG_GITHUB_WAIT": "5"}


# -- a scripted hostile server ------------------------------------------------------------------------
class Hostile:
    """Answers each request with the next scripted (status, headers, body); records what it got."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.script = list(script)
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        me = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _do(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                me.seen.append((self.command, self.path, dict(self.headers)))
                status, headers, payload = me.script.pop(0) if me.script else (200, {}, b"[]")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)  # http.server encodes header values as latin-1
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _do

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile() -> Iterator[Any]:
    made: list[Hostile] = []

    def make(*script: tuple[int, dict[str, str], bytes]) -> Hostile:
        made.append(Hostile(list(script)))
        return made[-1]

    yield make
    for h in made:
        h.close()


def _forge(url: str) -> GitHubForge:
    return GitHubForge(
        GitHubTarget("acme", "models", url, "https://github.example", "t0ken"), sleep=lambda s: None
    )


def _list(h: Hostile) -> Any:
    return _forge(h.url).list_pulls("b", "mreg/aliases")


def _raw(reply: Any) -> str:
    """A server that is not quite HTTP: reads the request, then sends `reply` (bytes, or a callable
    given the socket)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def loop() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                c.recv(65536)
                with contextlib.suppress(OSError):
                    reply(c) if callable(reply) else c.sendall(reply)

    threading.Thread(target=loop, daemon=True).start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}"


# -- F1: a huge Retry-After / x-ratelimit-reset crashes mreg (datetime overflow) ----------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "999999999999"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "999999999999"},
    ],
)
def test_a_huge_retry_time_is_exit_6_not_an_internal_error(hostile: Any, headers: dict[str, str]) -> None:
    """_rate_limited() formats now + wait with datetime.fromtimestamp: past year 9999 that is a
    ValueError ("year 33715 is out of range"), not the documented exit 6 naming when to retry."""
    h = hostile((429, headers, b'{"message": "API rate limit exceeded"}'))
    with pytest.raises(RemoteError, match="rate limit"):
        _list(h)


def test_promote_against_a_huge_retry_after_is_exit_6_and_takes_its_branch_back(live: Team) -> None:
    """Through the CLI: exit 70 "internal error: ValueError: year 33715 is out of range", and the review
    branch stays pushed (propose() only cleans up after an MregError)."""
    live.gh.fail(429, r"/pulls$", methods=("POST",), headers={"Retry-After": "999999999999"})
    r = live.mreg("promote", "fraud@v2", "--to", "production", env=QUICK)
    assert "internal error" not in r.err
    assert r.code == 6 and "retry after" in r.err
    assert branch_sha(live.bare, BRANCH) is None  # taken back, as for every other refusal


# -- F2: Latin-1 superscript digits pass str.isdigit() and crash int() -------------------------------
def test_ratelimit_headers_with_superscript_digits_are_ignored_not_a_crash() -> None:
    """HTTP header bytes are decoded as Latin-1, so 0xB2 arrives as '²': '²'.isdigit() is True and
    int('²') raises ValueError (security.md already knows this trap for tag names: "no ²")."""
    assert ratelimit.retry_after({"Retry-After": "\u00b2"}, 0.0) is None
    assert ratelimit.until_reset({"x-ratelimit-reset": "\u00b9\u00b2"}, 0.0) is None


def test_a_403_with_a_superscript_retry_after_is_reported_not_an_internal_error(hostile: Any) -> None:
    # is_rate_limit() calls retry_after() on every 403, so even a plain refusal crashes
    h = hostile((403, {"Retry-After": "\u00b2"}, b'{"message": "Forbidden"}'))
    with pytest.raises(MregError):
        _list(h)


def test_webhook_delivery_never_raises_on_a_superscript_retry_after(hostile: Any) -> None:
    """delivery.deliver() promises "never raises for the network"; the ValueError escapes its
    HTTPError handler (a sibling `except ValueError` does not catch it)."""
    h = hostile(*[(429, {"Retry-After": "\u00b2"}, b"slow down")] * 3)
    req = OutgoingRequest(h.url + "/hook", {"Content-Type": "application/json"}, b"{}", label="hook")
    d = delivery.deliver(req, attempts=2, sleep=lambda s: None)
    assert not d.ok and d.status == 429


# -- F3: GITHUB_API_URL / GITHUB_SERVER_URL over plain http get the token -----------------------------
@pytest.mark.parametrize(
    ("remote", "env"),
    [
        ("https://github.com/acme/models.git", {"GITHUB_API_URL": "http://api.github.com"}),
        ("https://ghe.corp/acme/models.git", {"GITHUB_SERVER_URL": "http://ghe.corp"}),
        ("https://github.com/acme/models.git", {"GITHUB_API_URL": "ftp://api.github.com"}),
    ],
)
def test_the_token_is_never_sent_over_plain_http_to_another_machine(remote: str, env: dict[str, str]) -> None:
    """The github-dispatch outlet refuses this very URL (outlets.url_problem: "only https:// is sent
    secrets (http only to this machine)"); the forge sends `Authorization: Bearer` over it in clear."""
    try:
        t = target_from_env(remote, {"GH_TOKEN": "s3cret", **env})
    except MregError:
        return  # refused: fine
    assert t is None or t.token is None or t.api_url.startswith("https://"), t.api_url


# -- F4: a Location or Link that urllib cannot send crashes mreg --------------------------------------
@pytest.mark.parametrize(
    "answer",
    [
        (301, {"Location": "/repos/acme/models/pulls x"}, b""),  # a space: http.client.InvalidURL
        (307, {"Location": "/repos/acme/models/pulls\x7f"}, b""),  # DEL
        (302, {"Location": "/repos/acme/models/p\u00e9"}, b""),  # Latin-1: UnicodeEncodeError
        (200, {"Link": '</repos/acme/models/pulls?page=2 x>; rel="next"'}, b"[]"),
        (200, {"Link": '</repos/acme/models/pulls?page=\u00e9>; rel="next"'}, b"[]"),
    ],
)
def test_a_location_or_link_urllib_cannot_send_is_a_remote_error(hostile: Any, answer: Any) -> None:
    h = hostile(answer)
    with pytest.raises(MregError):
        _list(h)


# -- F5: an answer that is not HTTP escapes as http.client.HTTPException ------------------------------
@pytest.mark.parametrize(
    "reply",
    [
        b"garbage\r\n\r\n",  # BadStatusLine
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n[]",  # LineTooLong
        b"HTTP/1.1 200 OK\r\n" + b"X: a\r\n" * 150 + b"\r\n[]",  # more than 100 headers
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n",  # IncompleteRead
    ],
    ids=["bad-status-line", "header-line-too-long", "too-many-headers", "broken-chunks"],
)
def test_a_broken_http_answer_is_a_remote_error(reply: bytes) -> None:
    """_request() catches URLError and OSError only; getresponse() and read() raise HTTPException
    subclasses (delivery.py catches them; the forge does not): exit 70 "internal error"."""
    with pytest.raises(MregError):
        _forge(_raw(reply)).list_pulls("b", "mreg/aliases")


# -- F6: no deadline per call ---------------------------------------------------------------------------
def test_a_trickling_server_cannot_hold_a_call_past_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """TIMEOUT_SECONDS bounds each socket read, not the call: one byte every 0.2 s keeps mreg waiting
    for ~8 s with a 0.5 s timeout (with the real 30 s and 16 MiB allowed: effectively forever)."""
    monkeypatch.setattr(github, "TIMEOUT_SECONDS", 0.5)

    def drip(c: socket.socket) -> None:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n[")
        for _ in range(39):
            time.sleep(0.2)
            c.sendall(b" ")

    url = _raw(drip)
    started = time.monotonic()
    with pytest.raises(MregError):
        _forge(url).list_pulls("b", "mreg/aliases")
    assert time.monotonic() - started < 4 * 0.5


# -- F7: the remote URL parser and git disagree on the host -------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example#@github.com/acme/models.git",
        "https://evil.example?@github.com/acme/models.git",
    ],
)
def test_a_remote_git_sends_elsewhere_is_not_taken_for_github(url: str) -> None:
    """RFC 3986 (and curl, so git) ends the authority at `#` or `?`: `git ls-remote` on these says
    "Could not resolve host: evil.example", so git pushes there, while mreg takes `...@` as userinfo
    and github.com as the host: `apply` would look up (and record as the approval) pull requests of
    github.com/acme/models for commits pushed to evil.example. The token itself still only goes to api.github.com."""
    parsed = parse_remote_url(url)
    assert parsed is None or parsed[0] != "github.com"


# -- F8: propose() re-fits a body that already fits ---------------------------------------------------
def test_a_body_of_exactly_the_limit_is_sent_as_it_is() -> None:
    """review_body() may return exactly BODY_LIMIT bytes; propose() then re-fits it with
    `fit_body([], body.split("\\n"), [], ...)`, whose trailing "" line adds one byte: over the limit,
    so everything after the gate table (a long line, the tail and its mreg:review marker) is dropped."""
    head = ["## promote fraud v2 to production", "", "| rule | ok |"]
    tail = ["", "<!-- mreg:review model=fraud alias=production version=2 -->"]
    used = sum(len(line.encode()) + 1 for line in head + tail)
    body = fit_body(head, ["x" * (BODY_LIMIT - used - 1)], tail, "`mreg show fraud@v2`")
    assert len(body) == BODY_LIMIT and body.rstrip().endswith("-->")
    again = fit_body([], body.split("\n"), [], "the branch b")
    assert again.rstrip("\n") == body.rstrip("\n")
