"""A failing git command is classified by what git says (SPEC §8): its environment (no git, a full disk,
no permission, a lock another process holds, not a repository, a remote that cannot be reached or
refuses us) is exit 2, 4 or 6 with one line naming what and where and a hint; only a failure nobody
expected is exit 70. Every case runs real git in a real environment: a read-only directory, a full
tmpfs, a stale lock file, a remote path that does not exist, a PATH without git, an HTTP server
that wants a password."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mreg.errors import ConflictError, InternalError, RemoteError, UsageError
from mreg.git.repo import LOCAL_FAILURES, REMOTE_FAILURES, GitRepo, classify
from testing.confine import on_full_disk, read_only, unprivileged, writable
from testing.gitutil import MREG, Result, make_bare, make_repo, refs, run_mreg


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights" * 100)
    return f


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Result:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _one_error(r: Result, code: int, *words: str) -> None:
    """Exit `code`, one error line naming every word, one hint line, no traceback."""
    assert r.code == code, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("mreg: error: ") and lines[1].startswith("  hint: "), r.err
    for word in words:
        assert word in lines[0], (word, r.err)
    assert "Traceback" not in r.err


# -- git itself ------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["list"], ["resolve", "fraud"], ["register", "fraud", "w.bin"]])
def test_no_git_on_path_is_exit_2(repo: Path, tmp_path: Path, args: list[str]) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    (repo / "w.bin").write_bytes(b"w")
    r = run_mreg(*args, cwd=repo, env={"PATH": str(empty)})
    _one_error(r, 2, "'git' executable was not found on PATH")
    assert "install git" in r.err


def test_not_a_git_repository_is_exit_2_naming_it(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError) as err:
        GitRepo(plain, None).out("rev-parse", "HEAD")
    assert err.value.exit_code == 2 and str(plain) in err.value.message
    assert "not a git repository" in err.value.message
    with pytest.raises(UsageError):  # a batch read no longer takes a dead git for "all missing"
        GitRepo(plain, None).read_blobs(["HEAD:models"])


def test_a_repository_removed_under_mreg_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "gone"
    make_repo(path)
    git = GitRepo.discover(path)
    import shutil

    shutil.rmtree(path)
    with pytest.raises(UsageError) as err:
        git.rev_parse("HEAD")
    assert "no such directory" in err.value.message and str(path) in err.value.message


def test_an_unexpected_git_failure_is_still_internal(repo: Path) -> None:
    with pytest.raises(InternalError) as err:
        GitRepo.discover(repo).run("no-such-subcommand")
    assert err.value.exit_code == 70 and "git no-such-subcommand failed" in err.value.message


# -- the repository's environment ------------------------------------------------------------------


@pytest.mark.parametrize("part", ["objects", "refs/heads/mreg"])
def test_read_only_repository_is_exit_6_and_changes_nothing(repo: Path, weights: Path, part: str) -> None:
    """No permission to add objects, or to lock the registry branch's ref: exit 6 at once (before this
    change the ref case was taken for a lost race, retried, and reported as a conflict)."""
    before = refs(repo)
    read_only(repo / ".git" / part)
    try:
        r = _run(unprivileged([*MREG, "register", "fraud", str(weights)]), cwd=repo)
    finally:
        writable(repo / ".git" / part)
    _one_error(r, 6, "permission denied in ", str(repo / ".git"), "git ")
    assert "check who owns" in r.err
    assert refs(repo) == before


def test_full_disk_is_exit_6_and_changes_nothing(repo: Path, weights: Path, tmp_path: Path) -> None:
    before = refs(repo)
    cmd = on_full_disk(repo / ".git" / "objects", [*MREG, "register", "fraud", str(weights)])
    r = _run(cmd, cwd=repo, env={"MREG_STORE": str(tmp_path / "store")})
    _one_error(r, 6, "the disk is full in ", str(repo / ".git"), "No space left on device")
    assert "free space" in r.err
    assert refs(repo) == before
    r = run_mreg("register", "fraud", str(weights), cwd=repo, env={"MREG_STORE": str(tmp_path / "store")})
    assert r.code == 0 and r.out.strip() == "fraud@v1", r.err  # the disk was only full in there


def test_full_store_disk_is_exit_6_naming_the_store(repo: Path, weights: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    before = refs(repo)
    r = _run(
        on_full_disk(store, [*MREG, "register", "fraud", str(weights)]),
        cwd=repo,
        env={"MREG_STORE": str(store)},
    )
    _one_error(r, 6, f"store {store} failed: No space left on device")
    assert "free space" in r.err
    assert refs(repo) == before


def test_config_lock_of_a_crashed_git_is_exit_4_naming_it(repo: Path) -> None:
    git = GitRepo.discover(repo)
    lock = repo / ".git" / "config.lock"
    lock.touch()
    try:
        with pytest.raises(ConflictError) as err:  # held right now: another git process
            git.run("config", "mreg.test", "1")
        assert "another git process is using it" in err.value.message and err.value.exit_code == 4
        old = time.time() - 120
        os.utime(lock, (old, old))
        with pytest.raises(ConflictError) as err:  # minutes old: a crash left it
            git.run("config", "mreg.test", "1")
        assert err.value.message.startswith(f"{lock} exists and is ") and "crashed" in err.value.message
    finally:
        lock.unlink()
    git.run("config", "mreg.test", "1")


def test_a_stale_index_lock_does_not_concern_mreg(repo: Path, weights: Path) -> None:
    """mreg never touches the index (SPEC §3): a lock a crashed `git add` left stops nothing here."""
    lock = repo / ".git" / "index.lock"
    lock.touch()
    old = time.time() - 3600
    os.utime(lock, (old, old))
    r = run_mreg("register", "fraud", str(weights), cwd=repo)
    assert r.code == 0, r.err
    assert lock.exists()


@pytest.mark.slow
def test_a_stale_local_ref_lock_stops_a_fetch_with_exit_4(tmp_path: Path, weights: Path) -> None:
    """A fetch that cannot update a local ref because a crashed git left its lock is no unreachable
    remote (and no retry clears it)."""
    bare = tmp_path / "remote.git"
    make_bare(bare)
    alice = tmp_path / "alice"
    make_repo(alice)
    subprocess.run(["git", "remote", "add", "origin", str(bare)], cwd=alice, check=True)
    assert run_mreg("init", cwd=alice).code == 0
    assert run_mreg("register", "fraud", str(weights), cwd=alice).code == 0
    tracking = [r for r in refs(alice) if r.startswith("refs/remotes/origin/mreg/registry")]
    assert tracking
    weights.write_bytes(b"v2")
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(bare), str(other)], check=True)
    assert run_mreg("register", "fraud", str(weights), cwd=other).code == 0  # the remote moves on
    lock = alice / ".git" / (tracking[0] + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    old = time.time() - 120
    os.utime(lock, (old, old))
    r = run_mreg("resolve", "fraud", cwd=alice)
    _one_error(r, 4, str(lock), "crashed")


# -- remotes ---------------------------------------------------------------------------------------


def test_remote_path_that_does_not_exist_is_exit_6(repo: Path, tmp_path: Path) -> None:
    subprocess.run(["git", "remote", "add", "origin", str(tmp_path / "nowhere.git")], cwd=repo, check=True)
    before = refs(repo)
    r = run_mreg("resolve", "fraud", cwd=repo)
    _one_error(r, 6, "cannot fetch from remote 'origin' (no repository at its URL)", "nowhere.git")
    assert "git remote get-url origin" in r.err and "--offline" in r.err
    assert refs(repo) == before


class _WantsPassword(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def password_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WantsPassword)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/team/models.git"
    server.shutdown()
    server.server_close()


def test_remote_that_wants_credentials_is_exit_6_authentication(repo: Path, password_server: str) -> None:
    subprocess.run(["git", "remote", "add", "origin", password_server], cwd=repo, check=True)
    before = refs(repo)
    r = run_mreg("resolve", "fraud", cwd=repo, env={"GIT_ALLOW_PROTOCOL": "file:http"})
    _one_error(r, 6, "cannot fetch from remote 'origin' (authentication failed)")
    assert "check your credentials" in r.err
    assert refs(repo) == before


def test_credentials_in_git_messages_are_never_shown() -> None:
    found = classify(
        "fatal: unable to access 'https://bot:s3cret-token@example.com/x.git/': Could not resolve host",
        REMOTE_FAILURES,
    )
    assert found is not None
    assert "s3cret-token" not in found[1] and found[0].what == "unreachable"


@pytest.mark.parametrize(
    ("stderr", "error", "what"),
    [
        (
            "fatal: unable to write loose object file: No space left on device",
            RemoteError,
            "the disk is full",
        ),
        ("error: unable to create temporary file: Read-only file system", RemoteError, "read-only"),
        (
            "error: insufficient permission for adding an object to repository database .git/objects\n"
            "fatal: Unable to add (null) to database",
            RemoteError,
            "permission denied",
        ),
        (
            "fatal: cannot lock ref 'refs/heads/mreg/registry': unable to create directory for .git/refs/heads/mreg",
            RemoteError,
            "cannot write",
        ),
        ("fatal: Unable to create '/r/.git/refs/heads/x.lock': File exists.", ConflictError, "another git"),
        ("fatal: not a git repository: '/r/.git'", UsageError, "not a git repository"),
        ("fatal: bad object 1234", Exception, "damaged"),
    ],
)
def test_local_failure_table(stderr: str, error: type[Exception], what: str) -> None:
    found = classify(stderr, LOCAL_FAILURES)
    assert found is not None
    assert issubclass(found[0].error, error) and what in found[0].what
    assert found[0].error.exit_code != 70


@pytest.mark.slow
def test_a_full_disk_under_the_stat_cache_costs_the_cache_not_the_registration(
    repo: Path, weights: Path, tmp_path: Path
) -> None:
    (repo / ".git" / "mreg").mkdir(exist_ok=True)
    time.sleep(2.1)  # a file changed in the last 2 s is racily new: the stat cache would not keep it
    cmd = on_full_disk(repo / ".git" / "mreg", [*MREG, "register", "fraud", str(weights)])
    r = _run(cmd, cwd=repo, env={"MREG_STORE": str(tmp_path / "store")})
    assert r.code == 0 and r.out.strip() == "fraud@v1", r.err


def test_read_only_store_is_exit_6_naming_the_store(repo: Path, weights: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    before = refs(repo)
    read_only(store)
    try:
        r = _run(
            unprivileged([*MREG, "register", "fraud", str(weights)]), cwd=repo, env={"MREG_STORE": str(store)}
        )
    finally:
        writable(store)
    _one_error(r, 6, f"store {store} failed: Permission denied")
    assert "check who owns" in r.err
    assert refs(repo) == before
