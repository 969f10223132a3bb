"""Git plumbing: every git call mreg makes goes through here (SPEC §3).

Writes build blobs, trees and commits with `hash-object`/`mktree`/`commit-tree` and move refs with
`update-ref NEW OLD` (a compare-and-swap), so the user's working tree, index, HEAD and stash are never
touched and a write rebuilds only the trees along the changed paths. Plain subprocesses, not GitPython:
`mktree` sorts a 10,000-entry directory in C where gitdb does it in Python, and a read command pays
no ~120 ms GitPython import.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from mreg.errors import (
    ConflictError,
    IntegrityError,
    InternalError,
    MregError,
    NotFoundError,
    RemoteError,
    UsageError,
)

ZERO_OID = "0" * 40
TREE_MODE = "040000"
BLOB_MODE = "100644"
_CAS_FAILED = re.compile(r"cannot lock ref|reference already exists|but expected|is at .* but expected")


@dataclass(frozen=True)
class GitFailure:
    """A class of git failure, recognised by what git prints on stderr: which error it is (SPEC §8),
    in a few words, and the next step. `{where}` in a hint is the repository (or the remote's name)."""

    pattern: re.Pattern[str]
    error: type[MregError]
    what: str
    hint: str


def _failure(pattern: str, error: type[MregError], what: str, hint: str) -> GitFailure:
    return GitFailure(re.compile(pattern, re.IGNORECASE), error, what, hint)


# Why a git command failed in this repository, when the cause is its environment or its data rather
# than mreg: the first class whose pattern any line of stderr matches decides. A failure no class
# matches is unexpected: InternalError (exit 70). A ref lock held by another process is a race the
# callers retry (`update_ref`, `create_tag` return False); one that is still there is `ConflictError`.
LOCAL_FAILURES: tuple[GitFailure, ...] = (
    _failure(
        r"No space left on device|Disk quota exceeded|File too large",
        RemoteError,
        "the disk is full",
        "free space on the disk that holds {where}, then run the command again",
    ),
    _failure(
        r"Read-only file system",
        RemoteError,
        "the file system is read-only",
        "run the command where {where} can be written",
    ),
    _failure(
        r"insufficient permission|Permission denied|Operation not permitted",
        RemoteError,
        "permission denied",
        "check who owns {where} and that you may write to everything in it",
    ),
    _failure(
        r"unable to create directory for|unable to create temporary file|unable to write",
        RemoteError,
        "cannot write",
        "check that you may write to {where} and that its disk has space",
    ),
    _failure(
        r"Unable to create '[^']+\.lock': File exists|could not lock config file .*: File exists",
        ConflictError,
        "another git process is using it",
        "wait for it to finish and run the command again; if no git command is running there, remove the .lock file",
    ),
    _failure(
        r"not a git repository",
        UsageError,
        "not a git repository",
        "pass --repo PATH of a git repository (is {where} still there?)",
    ),
    _failure(
        r"bad object|corrupt|missing blob|missing tree|unable to read|loose object .* is corrupt",
        IntegrityError,
        "the repository is damaged",
        "run 'git fsck'; fetch or re-clone",
    ),
)
# Why a fetch or a push failed on the remote's side (all exit 6, never retried): the hint differs.
REMOTE_FAILURES: tuple[GitFailure, ...] = (
    _failure(
        r"Authentication failed|Permission denied \(publickey|could not read (?:Username|Password)|"
        r"terminal prompts disabled|Access denied|returned error: 40[13]",
        RemoteError,
        "authentication failed",
        "check your credentials for remote {where} (a token, an SSH key)",
    ),
    _failure(
        r"does not appear to be a git repository|repository .* not found|No such file or directory|"
        r"not a git repository|returned error: 404",
        RemoteError,
        "no repository at its URL",
        "check the URL: git remote get-url {where}",
    ),
    _failure(
        r"transport '[^']+' not allowed",
        RemoteError,
        "its protocol is not allowed here",
        "GIT_ALLOW_PROTOCOL (or protocol.<name>.allow) forbids it",
    ),
    _failure(
        r"Could not read from remote|unable to access|Could not resolve host|Connection refused|"
        r"Connection timed out|timed out|Network is unreachable|Connection reset|early EOF|unexpected disconnect",
        RemoteError,
        "unreachable",
        "check the remote and your network",
    ),
)
_URL_USERINFO = re.compile(r"(://)[^/@\s]+@")


def classify(stderr: str, table: Sequence[GitFailure]) -> tuple[GitFailure, str] | None:
    """The first class in `table` that a line of git's stderr matches, and that line (credential-free)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.strip().startswith("hint:")]
    for failure in table:
        for line in lines:
            if failure.pattern.search(line):
                shown = line.removeprefix("fatal: ").removeprefix("error: ")
                return failure, _URL_USERINFO.sub(r"\1***@", shown)[:300]
    return None


def _local_error(stderr: str, command: str, where: Path) -> MregError | None:
    """The error for a git failure in this repository that LOCAL_FAILURES recognises, else None."""
    found = classify(stderr, LOCAL_FAILURES)
    if found is None:
        return None
    failure, line = found
    return failure.error(
        f"{failure.what} in {where}: git {command} says: {line}", hint=failure.hint.format(where=where)
    )


def _git_missing(exc: OSError, cwd: Path) -> MregError | None:
    """Starting git failed: git is not installed or cannot be run (exit 2), or the directory it was to
    run in is gone (exit 2) or may not be entered (exit 6). Anything else propagates."""
    if exc.filename is not None and os.fsdecode(exc.filename) == os.fsdecode(cwd):
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            return UsageError(
                f"{cwd}: no such directory (any more)", hint="pass --repo PATH of a git repository"
            )
        if isinstance(exc, PermissionError):
            return RemoteError(
                f"permission denied: cannot enter {cwd}", hint=f"check the permissions of {cwd}"
            )
        return None
    if isinstance(exc, FileNotFoundError):
        return UsageError("the 'git' executable was not found on PATH", hint="install git")
    if isinstance(exc, PermissionError):
        return UsageError(
            f"the 'git' executable cannot be run: {exc.strerror}", hint="check git's installation"
        )
    return None


MAX_READ_BYTES = 16 * 1024 * 1024  # no file mreg reads from git is anywhere near this
_HEX_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")
_FEW_COMMITS = 8  # ancestry checks of more commits than this walk the history once instead


class Oversized(bytes):
    """Stands in for an object larger than the reader's bound: empty bytes that know the real size."""

    size: int

    def __new__(cls, size: int) -> Oversized:
        obj = super().__new__(cls, b"")
        obj.size = size
        return obj


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    oid: str
    name: str


@dataclass(frozen=True)
class PushResult:
    ok: bool
    rejected: tuple[str, ...]
    detail: str

    @property
    def locked_ref(self) -> str | None:
        """The ref the remote could not lock: held by a push in flight, or left by one that crashed."""
        m = _LOCKED.search(self.detail)
        return m.group(1) if m else None


BULK_TREE_PATHS = 64  # more changed paths than this: write_tree_bulk


class GitRepo:
    """One repository (a working clone or a bare cache) and the plumbing mreg needs of it."""

    def __init__(self, git_dir: Path, work_tree: Path | None) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        self._env = dict(os.environ)
        self._env.setdefault("GIT_TERMINAL_PROMPT", "0")
        self._env["LC_ALL"] = "C"
        # `git status` (dirty flag) would otherwise refresh and rewrite the user's .git/index (SPEC §3).
        self._env["GIT_OPTIONAL_LOCKS"] = "0"
        # A URL from a config file or a flag is data: never a local fd or a command (fd::, ext::).
        self._env.setdefault("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")

    # -- discovery ---------------------------------------------------------------------------------
    @classmethod
    def discover(cls, path: str | os.PathLike[str] = ".") -> GitRepo:
        start = Path(path)
        if not start.exists():
            raise UsageError(f"repository path {str(start)!r} does not exist")
        cwd = start if start.is_dir() else start.parent
        try:
            proc = subprocess.run(
                ["git", "rev-parse", "--absolute-git-dir", "--is-bare-repository", "--show-toplevel"],
                cwd=cwd,
                capture_output=True,
                text=True,
                env={**os.environ, "LC_ALL": "C"},
            )
        except OSError as exc:
            raise _git_missing(exc, cwd) or exc from None
        lines = proc.stdout.splitlines()
        # In a bare repository git answers the first two and then refuses --show-toplevel (exit 128).
        if proc.returncode != 0 and lines[1:2] != ["true"]:
            found = classify(proc.stderr, LOCAL_FAILURES)  # e.g. a directory it may not read
            if found is not None and found[0].error is not UsageError:
                failure, line = found
                raise failure.error(
                    f"{failure.what} in {cwd}: git rev-parse says: {line}",
                    hint=failure.hint.format(where=cwd),
                )
            raise UsageError(
                f"{str(start)!r} is not inside a git repository", hint="run 'git init' or pass --repo PATH"
            )
        git_dir = Path(lines[0])
        bare = len(lines) > 1 and lines[1] == "true"
        work_tree = Path(lines[2]) if not bare and len(lines) > 2 else None
        return cls(git_dir, work_tree)

    def with_config(self, key: str, value: str) -> None:
        """A config value for every git this process runs here, passed in the environment
        (GIT_CONFIG_COUNT, git ≥ 2.31): never written to a file."""
        n = int(self._env.get("GIT_CONFIG_COUNT", "0") or 0)
        self._env[f"GIT_CONFIG_KEY_{n}"] = key
        self._env[f"GIT_CONFIG_VALUE_{n}"] = value
        self._env["GIT_CONFIG_COUNT"] = str(n + 1)

    @property
    def common_dir(self) -> Path:
        """The shared git dir (worktrees share one object store and one mreg store)."""
        common = self.git_dir / "commondir"
        if common.is_file():
            return (self.git_dir / common.read_text().strip()).resolve()
        return self.git_dir

    # -- running -----------------------------------------------------------------------------------
    def run(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        cmd = ["git", f"--git-dir={self.git_dir}", *args]
        cwd = self.work_tree or self.git_dir
        try:
            proc = subprocess.run(
                cmd,
                input=input,
                capture_output=True,
                env={**self._env, **env} if env else self._env,
                cwd=cwd,
            )
        except OSError as exc:
            raise _git_missing(exc, cwd) or exc from None
        if check and proc.returncode != 0:
            self.fail(args[0], proc.stderr)
        return proc

    def fail(self, command: str, stderr: bytes | str) -> NoReturn:
        """Raise the error for a failed git command: its environment's (LOCAL_FAILURES: exit 2, 4, 5 or
        6, a stale lock named), else an internal error (exit 70): mreg ran git wrongly."""
        text = stderr if isinstance(stderr, str) else stderr.decode("utf-8", "replace")
        _refuse_a_stale_lock(text)
        raise _local_error(text, command, self.git_dir) or InternalError(
            f"git {command} failed: {_first_line(text.encode())}"
        )

    def out(self, *args: str, input: bytes | None = None) -> str:
        return self.run(*args, input=input).stdout.decode().strip()

    # -- reading -----------------------------------------------------------------------------------
    def rev_parse(self, rev: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", rev, check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def read_blobs(self, specs: Sequence[str], *, limit: int = MAX_READ_BYTES) -> list[bytes | None]:
        """Read many `rev:path` blobs in one `cat-file --batch` call; None where missing (or not a blob).

        Streamed: a blob over `limit` bytes is skipped, never held, and stands in as an `Oversized`
        (empty, with its size), so a crafted 1 GB "manifest" costs no memory (issue 11).
        """
        return self._batch(specs, limit=limit, blobs_only=True)

    def _batch(self, specs: Sequence[str], *, limit: int, blobs_only: bool) -> list[bytes | None]:
        if not specs:
            return []
        import tempfile

        cwd = self.work_tree or self.git_dir
        errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (a file, not a pipe: git never blocks on it; closed below)
        try:
            proc = subprocess.Popen(
                ["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=self._env,
                cwd=cwd,
            )
        except OSError as exc:
            errors.close()
            raise _git_missing(exc, cwd) or exc from None
        assert proc.stdin is not None and proc.stdout is not None
        payload = "".join(s + "\n" for s in specs).encode()
        stdin = proc.stdin

        def feed() -> None:
            try:
                stdin.write(payload)
                stdin.close()
            except OSError:  # git died; its missing answers are reported below
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        results: list[bytes | None] = []
        out = proc.stdout
        try:
            for _ in specs:
                parts = out.readline().split()
                if len(parts) != 3 or not parts[2].isdigit():  # "<spec> missing" or "ambiguous"
                    results.append(None)
                    continue
                size = int(parts[2])
                if size > limit:
                    remaining = size + 1
                    while remaining:
                        got = out.read(min(remaining, 1 << 20))
                        if not got:
                            break
                        remaining -= len(got)
                    results.append(Oversized(size))
                    continue
                content = out.read(size)
                out.read(1)
                results.append(content if parts[1] == b"blob" or not blobs_only else None)
        finally:
            writer.join()
            out.close()
            proc.wait()
            errors.seek(0)
            stderr = errors.read()
            errors.close()
        if proc.returncode != 0:  # git died: its missing answers are no "missing" objects
            self.fail("cat-file", stderr)
        return results

    def object_info(self, specs: Sequence[str]) -> list[tuple[str, str, int] | None]:
        """(object id, type, size) of each spec in one `cat-file --batch-check`; None where missing."""
        if not specs:
            return []
        out = self.run("cat-file", "--batch-check", input="".join(s + "\n" for s in specs).encode()).stdout
        info: list[tuple[str, str, int] | None] = []
        for line in out.decode("utf-8", "replace").splitlines():
            parts = line.split()
            info.append(
                (parts[0], parts[1], int(parts[2]))
                if len(parts) == 3 and parts[2].isascii() and parts[2].isdigit()
                else None
            )
        return info

    def read_objects(self, oids: Sequence[str], *, limit: int = MAX_READ_BYTES) -> list[bytes | None]:
        """The raw content of objects by id (any type), streamed like `read_blobs`; callers bound sizes first."""
        return self._batch(oids, limit=limit, blobs_only=False)

    def read_blob(self, spec: str) -> bytes | None:
        return self.read_blobs([spec])[0]

    def object_ids(self, specs: Sequence[str]) -> list[str | None]:
        if not specs:
            return []
        out = self.run("cat-file", "--batch-check", input="".join(s + "\n" for s in specs).encode()).stdout
        ids: list[str | None] = []
        for line in out.decode().splitlines():
            parts = line.split()
            ids.append(parts[0] if len(parts) == 3 else None)
        return ids

    def ls_tree(self, rev: str, path: str = "") -> list[TreeEntry]:
        """Entries of one directory of a commit (not recursive); empty when it does not exist."""
        spec = f"{rev}:{path}" if path else f"{rev}^{{tree}}"
        proc = self.run("ls-tree", "-z", "--end-of-options", spec, check=False)
        if proc.returncode != 0:
            return []
        return _parse_tree(proc.stdout)

    def ls_files(self, rev: str, path: str) -> list[str]:
        """All file paths under `path` in a commit, recursively."""
        proc = self.run(
            "ls-tree", "-r", "-z", "--name-only", "--end-of-options", rev, "--", path, check=False
        )
        if proc.returncode != 0:
            return []
        return [p.decode() for p in proc.stdout.split(b"\0") if p]

    def blob_ids(self, rev: str, path: str) -> dict[str, str]:
        """Every file under `path` in a commit, recursively, and its blob id (one `ls-tree -r`)."""
        proc = self.run("ls-tree", "-r", "-z", "--end-of-options", rev, "--", path, check=False)
        if proc.returncode != 0:
            return {}
        out = {}
        for item in proc.stdout.split(b"\0"):  # "<mode> blob <oid>\t<path>": 100,000 of them in `list`
            meta, _, name = item.partition(b"\t")
            kind_oid = meta.partition(b" ")[2]
            if kind_oid.startswith(b"blob "):
                out[name.decode("utf-8", "replace")] = kind_oid[5:].decode("ascii", "replace")
        return out

    def ref_names(self, pattern: str) -> list[str]:
        """The names of the refs under `pattern` (a ref name holds no newline: git refuses one)."""
        return (
            self.run("for-each-ref", "--format=%(refname)", pattern).stdout.decode("utf-8", "replace").split()
        )

    def for_each_ref(
        self, pattern: str, fields: Sequence[str], *, sort: str | None = None
    ) -> list[list[str]]:
        """One row per ref; fields separated by NUL, rows by a sentinel (bodies span lines)."""
        fmt = "%00".join(fields) + "%00%1e"
        args = ["for-each-ref", f"--format={fmt}"]
        if sort:
            args.append(f"--sort={sort}")
        raw = self.run(*args, pattern).stdout.decode("utf-8", "replace")
        rows = []
        for chunk in raw.split("\x00\x1e"):
            chunk = chunk.lstrip("\n")
            if chunk:
                rows.append(chunk.split("\x00"))
        return rows

    def commit_before(self, rev: str, when_unix: int) -> str | None:
        proc = self.run("rev-list", "-1", f"--before={when_unix}", "--end-of-options", rev, check=False)
        return proc.stdout.decode().strip() or None

    def log(
        self, rev: str, path: str | None = None, fmt: str = "%H%x00%ct%x00%an <%ae>%x00%s"
    ) -> list[list[str]]:
        args = ["log", f"--format={fmt}", "--end-of-options", rev]
        if path:
            args += ["--", path]
        proc = self.run(*args, check=False)
        if proc.returncode != 0:
            return []
        return [line.split("\x00") for line in proc.stdout.decode("utf-8", "replace").splitlines() if line]

    def identity(self) -> tuple[str, int]:
        """`Name <email>` and the commit time git will record (honours GIT_COMMITTER_DATE).

        Under GitHub Actions, where runners have no git identity, the workflow's actor is used, as
        GitHub itself attributes commits it makes for them.
        """
        proc = self.run("var", "GIT_COMMITTER_IDENT", check=False)
        actor = os.environ.get("GITHUB_ACTOR")
        if proc.returncode != 0 and actor and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*(\[bot\])?", actor):
            email = f"{actor}@users.noreply.github.com"
            for who in ("AUTHOR", "COMMITTER"):
                self._env.setdefault(f"GIT_{who}_NAME", actor)
                self._env.setdefault(f"GIT_{who}_EMAIL", email)
            proc = self.run("var", "GIT_COMMITTER_IDENT", check=False)
        if proc.returncode != 0:
            raise UsageError(
                "git has no identity to record who made this change",
                hint="set it with: git config --global user.name 'Your Name'; git config --global user.email you@example.com",
            )
        ident = proc.stdout.decode().strip()
        name_email, _, rest = ident.rpartition(">")
        stamp = rest.split()
        return name_email + ">", int(stamp[0]) if stamp else 0

    def checked_out(self, branch: str) -> Path | None:
        """The worktree (the main one included) that has `branch` checked out, if any: mreg never
        moves such a branch, since that checkout would then show the reverse of the move as staged."""
        proc = self.run("worktree", "list", "--porcelain", "-z", check=False)
        if proc.returncode != 0:
            return None
        path = None
        for field in proc.stdout.decode("utf-8", "replace").split("\0"):
            if field.startswith("worktree "):
                path = Path(field[len("worktree ") :])
            elif field == f"branch refs/heads/{branch}" and path is not None:
                return path
        return None

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.run("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0

    def has_object(self, oid: str) -> bool:
        return self.run("cat-file", "-e", "--end-of-options", oid, check=False).returncode == 0

    def delete_ref(self, ref: str, old: str | None) -> bool:
        """Compare-and-swap delete: False when `ref` is no longer at `old`."""
        args = ["update-ref", "-d", ref] + ([old] if old else [])
        return self.run(*args, check=False).returncode == 0

    def ls_remote(self, remote: str, ref: str) -> str | None:
        """What the remote's `ref` names now (one round trip); None when it has no such ref."""
        proc = self.run("ls-remote", "--end-of-options", remote, ref, check=False)
        if proc.returncode != 0:
            raise _remote_error("read refs from", remote, proc.stderr.decode("utf-8", "replace"))
        for line in proc.stdout.decode("ascii", "replace").splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None

    def push_lease(self, remote: str, ref: str, new: str | None, old: str | None) -> bool:
        """Compare-and-swap on the remote's `ref` (`--force-with-lease=ref:old`; empty: must not
        exist): set it to `new`, or delete it when `new` is None. False when it was not at `old`."""
        spec = f"{new}:{ref}" if new is not None else f":{ref}"
        proc = self.run(
            "push",
            "--porcelain",
            "--quiet",
            f"--force-with-lease={ref}:{old or ''}",
            remote,
            spec,
            check=False,
        )
        if proc.returncode == 0:
            return True
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        if any(line.startswith("!") for line in out.splitlines()) or "stale info" in err:
            return False
        raise _remote_error("push to", remote, err)

    def ancestors_among(self, commits: set[str], tip: str) -> set[str]:
        """Those of `commits` that are `tip` or its ancestors: one `merge-base --is-ancestor` each for
        a few; for more, one `rev-list C... ^tip`, which prints only the commits that are not (git
        walks the history but prints none of it: half the time of listing 10,000 commits)."""
        if len(commits) <= _FEW_COMMITS:
            return {c for c in commits if c == tip or self.is_ancestor(c, tip)}
        ids = sorted(c for c in commits if _HEX_ID.match(c))
        proc = self.run(
            "rev-list", "--stdin", input="".join(f"{c}\n" for c in [*ids, f"^{tip}"]).encode(), check=False
        )
        if proc.returncode != 0:  # one of them is no commit here: ask the slow way, which tells which
            return commits & self.rev_list(tip)
        outside = set(proc.stdout.decode("ascii", "replace").split())
        return {c for c in ids if c not in outside}

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self.run("merge-base", a, b, check=False)
        return (proc.stdout.decode().strip() or None) if proc.returncode == 0 else None

    def verify_tag(self, tag: str) -> bool:
        """Whether git's own configured verifier (gpg, or gpg.format=ssh) accepts the tag's signature."""
        return self.run("verify-tag", "--end-of-options", tag, check=False).returncode == 0

    def changed_paths(self, old: str, new: str, under: str) -> list[tuple[str, str]]:
        """(status letter, path) of every file under `under` that differs from `old` to `new` (no renames)."""
        out = self.run("diff-tree", "-r", "--no-renames", "--name-status", "-z", old, new, "--", under).stdout
        fields = [f.decode("utf-8", "replace") for f in out.split(b"\0") if f]
        return list(zip(fields[0::2], fields[1::2], strict=False))

    def first_parent_log(
        self, rev: str, path: str, *, limit: int | None = None
    ) -> list[tuple[str, list[str]]]:
        """(commit, parents) of each first-parent commit of `rev` that touched `path`, newest first."""
        bound = [f"-{limit}"] if limit is not None else []
        out = self.run(
            "log",
            "--first-parent",
            *bound,
            "--format=%H %P",
            "--end-of-options",
            rev,
            "--",
            path,
            check=False,
        ).stdout.decode()
        return [(parts[0], parts[1:]) for parts in (line.split() for line in out.splitlines()) if parts]

    def last_commit_touching(self, rev: str, path: str) -> str | None:
        """The newest commit of `rev`'s history that changed `path`."""
        out = self.run("log", "-1", "--format=%H", "--end-of-options", rev, "--", path, check=False).stdout
        return out.decode().strip() or None

    def commit_message(self, rev: str) -> str:
        return self.out("log", "-1", "--format=%B", "--end-of-options", rev)

    def rev_list(self, rev: str) -> set[str]:
        """Every commit reachable from `rev`."""
        return set(self.out("rev-list", "--end-of-options", rev).split())

    def has_uncommitted_changes(self) -> bool:
        """Tracked files differ from HEAD (untracked files do not count)."""
        return bool(self.run("status", "--porcelain", "--untracked-files=no", check=False).stdout.strip())

    def verify_tag_with(self, tag: str, *, allowed_signers_file: str) -> tuple[bool, str]:
        """Verify a tag's signature with `--raw` status output, SSH keys limited to `allowed_signers_file`:
        (git accepted it, the status text to read PGP fingerprints from)."""
        proc = self.run(
            "-c",
            f"gpg.ssh.allowedSignersFile={allowed_signers_file}",
            "verify-tag",
            "--raw",
            "--",
            tag,
            check=False,
        )
        return proc.returncode == 0, proc.stderr.decode("utf-8", "replace")

    def set_remote(self, name: str, url: str) -> None:
        """Add remote `name` at `url`, or point the existing one there."""
        current = self.remote_url(name)
        if current is None:
            self.run("remote", "add", "--", name, url)
        elif current != url:
            self.run("remote", "set-url", "--", name, url)

    @classmethod
    def init_bare(cls, path: Path) -> GitRepo:
        try:
            proc = subprocess.run(
                ["git", "init", "--quiet", "--bare", str(path)], capture_output=True, cwd=path.parent
            )
        except OSError as exc:
            raise _git_missing(exc, path.parent) or exc from None
        if proc.returncode != 0:
            raise _local_error(proc.stderr.decode("utf-8", "replace"), "init", path) or UsageError(
                f"cannot create a git repository at {path}: {_first_line(proc.stderr)}"
            )
        return cls(path, None)

    def remote_has_branch(self, remote: str, branch: str) -> bool:
        out = self.run("ls-remote", "--heads", remote, f"refs/heads/{branch}", check=False).stdout
        return bool(out.strip())

    def fetch_refspec(self, remote: str, refspec: str) -> bool:
        """Fetch one refspec quietly (no tags, no FETCH_HEAD); whether it succeeded."""
        proc = self.run(
            "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, refspec, check=False
        )
        return proc.returncode == 0

    # -- writing -----------------------------------------------------------------------------------
    def write_blob(self, data: bytes) -> str:
        return self.out("hash-object", "-w", "--stdin", input=data)

    def write_tree(self, base_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
        """A new tree: `base_tree` with each path set to its bytes (or removed when None).

        Recurses only into directories that change, so the cost follows the depth and width of the
        changed paths, never the size of the whole registry. Many paths at once (a purge's records)
        go through `write_tree_bulk` instead: a few git processes in all, not a few a path.
        """
        if len(changes) > BULK_TREE_PATHS:
            return self.write_tree_bulk(base_tree, changes)
        here: dict[str, bytes | None] = {}
        below: dict[str, dict[str, bytes | None]] = {}
        for path, data in changes.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = data
            else:
                here[head] = data
        entries = {e.name: e for e in (self.ls_tree(base_tree) if base_tree else [])}
        for name, data in here.items():
            if data is None:
                entries.pop(name, None)
            else:
                entries[name] = TreeEntry(BLOB_MODE, "blob", self.write_blob(data), name)
        for name, sub in below.items():
            old = entries.get(name)
            sub_base = old.oid if old is not None and old.kind == "tree" else None
            oid = self.write_tree(sub_base, sub)
            entries[name] = TreeEntry(TREE_MODE, "tree", oid, name)
        payload = b"".join(f"{e.mode} {e.kind} {e.oid}\t{e.name}\0".encode() for e in entries.values())
        return self.out("mktree", "-z", input=payload)

    def write_tree_bulk(self, base_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
        """`write_tree` for many paths: every blob in one `hash-object --stdin-paths`, the tree through
        a temporary index (`read-tree`, `update-index -z --index-info`, `write-tree`) — four git
        processes whatever the number of paths (9,000 purge records: ~1 s instead of ~2 minutes)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mreg-tree-") as tmp:
            written = [(path, data) for path, data in changes.items() if data is not None]
            names = []
            for i, (_, data) in enumerate(written):
                name = os.path.join(tmp, f"{i}.blob")
                with open(name, "wb") as f:
                    f.write(data)
                names.append(name)
            oids = (
                self.out(
                    "hash-object",
                    "-w",
                    "--no-filters",
                    "--stdin-paths",
                    input="\n".join(names).encode() + b"\n",
                ).split()
                if names
                else []
            )
            if len(oids) != len(written):
                raise InternalError(f"git hash-object wrote {len(oids)} of {len(written)} blobs")
            oid_of = {path: oid for (path, _), oid in zip(written, oids, strict=True)}
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            self.run("read-tree", *([base_tree] if base_tree else ["--empty"]), env=env)
            zero = "0" * len(oids[0] if oids else base_tree or "0" * 40)  # SHA-1 or SHA-256
            info = b"".join(
                (f"{BLOB_MODE} {oid_of[path]}\t{path}" if data is not None else f"0 {zero}\t{path}").encode()
                + b"\0"
                for path, data in changes.items()
            )
            self.run("update-index", "-z", "--index-info", input=info, env=env)
            return self.run("write-tree", env=env).stdout.decode().strip()

    def commit_tree(
        self, tree: str, parents: Sequence[str], message: str, env: Mapping[str, str] | None = None
    ) -> str:
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self.run(*args, "-F", "-", input=message.encode(), env=env).stdout.decode().strip()

    def update_ref(self, ref: str, new: str, old: str | None, message: str = "mreg") -> bool:
        """Compare-and-swap: False when `ref` is no longer at `old` (None: must not exist)."""
        proc = self.run("update-ref", "-m", message, ref, new, old or ZERO_OID, check=False)
        if proc.returncode == 0:
            return True
        err = proc.stderr.decode("utf-8", "replace")
        _refuse_a_stale_lock(err)
        _refuse_the_environment(err, "update-ref", self.git_dir)
        if _CAS_FAILED.search(err):
            return False
        self.fail(f"update-ref {ref}", err)

    def create_tag(self, name: str, target: str, message: str, *, sign: bool = False) -> bool:
        """A new annotated tag; False when a tag of that name exists already (git creates it create-only)."""
        proc = self.run(
            "tag", "-s" if sign else "-a", "-F", "-", "--", name, target, input=message.encode(), check=False
        )
        if proc.returncode == 0:
            return True
        err = proc.stderr.decode("utf-8", "replace")
        _refuse_a_stale_lock(err)
        if not (sign and re.search(r"failed to sign|unable to sign", err)):  # gpg's own words are no repo's
            _refuse_the_environment(err, "tag", self.git_dir)
        if "already exists" in err or _CAS_FAILED.search(err):
            return False
        if sign:
            raise UsageError(
                f"could not sign tag {name}: {_first_line(proc.stderr)}",
                hint="check git's user.signingkey and gpg.format",
            )
        self.fail(f"tag {name}", err)

    def tag_object(self, name: str, target: str, message: str, *, sign: bool = False) -> str:
        """An annotated tag object for `target`, with no ref pointing at it yet (publish first, then name it)."""
        if sign:  # only `git tag` signs: create, then drop the local name at once
            if not self.create_tag(name, target, message, sign=True):
                raise ConflictError(f"tag {name} exists already")
            oid = self.out("rev-parse", "--verify", f"refs/tags/{name}")
            self.run("update-ref", "-d", f"refs/tags/{name}", oid, check=False)
            return oid
        ident = self.run("var", "GIT_COMMITTER_IDENT").stdout.decode().strip()
        kind = self.out("cat-file", "-t", target)
        body = f"object {target}\ntype {kind}\ntag {name}\ntagger {ident}\n\n{message}"
        return self.out("mktag", input=body.encode())

    # -- remotes -----------------------------------------------------------------------------------
    def remote_url(self, name: str) -> str | None:
        proc = self.run("config", "--get", f"remote.{name}.url", check=False)
        return proc.stdout.decode().strip() or None

    def fetch(self, remote: str, refspecs: Sequence[str]) -> None:
        err = ""
        for attempt in range(20):
            proc = self.run("fetch", "--no-tags", "--no-write-fetch-head", remote, *refspecs, check=False)
            err = proc.stderr.decode("utf-8", "replace")
            if proc.returncode == 0:
                return
            if "couldn't find remote ref" in err:
                # An uninitialised remote: fetch what exists one by one.
                for spec in refspecs:
                    self.run(
                        "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, spec, check=False
                    )
                return
            _refuse_a_stale_lock(err)  # a ref lock here that a crashed git left: no retry clears it
            if classify(err, REMOTE_FAILURES) is not None:
                break
            _refuse_the_environment(err, "fetch", self.git_dir)  # this clone cannot take what it fetched
            # Most often another mreg process in this clone is updating the same refs, or holds a tag it
            # has not yet published (and will drop if the remote has that name): fetch again.
            time.sleep(0.02 * (attempt + 1) * random.random())
        if "would clobber existing tag" in err:
            raise ConflictError(
                f"a local mreg tag differs from the one on {remote!r}: {_first_line(err.encode())}",
                hint="a tag created here was never published; delete it with 'git tag -d NAME' and retry",
            )
        raise _remote_error("fetch from", remote, err)

    def push(self, remote: str, refspecs: Sequence[str], *, atomic: bool = True) -> PushResult:
        """Push without force; a rejected ref is a result to retry on, not an exception."""
        args = ["push", "--porcelain", "--quiet"]
        if atomic and len(refspecs) > 1:
            args.append("--atomic")
        proc = self.run(*args, remote, *refspecs, check=False)
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        rejected = tuple(line for line in out.splitlines() if line.startswith("!"))
        if proc.returncode == 0:
            return PushResult(True, (), out)
        if (
            rejected
            or "atomic push failed" in err
            or ("failed to push some refs" in err and classify(err, REMOTE_FAILURES) is None)
        ):
            return PushResult(False, rejected, out + err)
        if classify(err, REMOTE_FAILURES) is None:
            _refuse_the_environment(err, "push", self.git_dir)
        raise _remote_error("push to", remote, err)


def _parse_tree(raw: bytes) -> list[TreeEntry]:
    entries = []
    for item in raw.split(b"\0"):
        if not item:
            continue
        meta, _, name = item.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        entries.append(TreeEntry(mode, kind, oid, name.decode()))
    return entries


_LOCKED = re.compile(r"cannot lock ref '([^']+)'")  # a remote refusing a ref it cannot lock
_LOCK_FILE = re.compile(r"Unable to create '([^']+\.lock)': File exists")
_CONFIG_LOCK = re.compile(r"could not lock config file (.+): File exists")  # git names the file, not its lock
STALE_LOCK_SECONDS = 10.0  # git holds a ref lock for milliseconds; one this old was left by a crash


def _refuse_a_stale_lock(stderr: str) -> None:
    """A lock another process holds right now is a race to retry; one left by a crashed git would
    make every retry fail the same way, so it is named instead (exit 4) for a person to remove."""
    if m := _LOCK_FILE.search(stderr):
        lock = Path(m.group(1))
    elif m := _CONFIG_LOCK.search(stderr):
        lock = Path(m.group(1) + ".lock")
    else:
        return
    try:
        age = time.time() - lock.stat().st_mtime
    except OSError:
        return  # released meanwhile: retry
    if age > STALE_LOCK_SECONDS:
        raise ConflictError(
            f"{lock} exists and is {age:.0f} s old: a git process that crashed left it",
            hint="if no git command is running in this repository, remove that file and run the command again",
        )


def _refuse_the_environment(stderr: str, command: str, where: Path) -> None:
    """A write that failed because of this repository's environment (a full disk, no permission): never a
    race to retry. Checked before a "cannot lock ref" is taken for a lost compare-and-swap, since git
    says that too when it cannot create the ref's directory."""
    error = _local_error(stderr, command, where)
    if error is not None and not isinstance(error, ConflictError):  # a lock held right now: a race
        raise error


def _remote_error(doing: str, remote: str, stderr: str) -> RemoteError:
    """Exit 6, with the reason REMOTE_FAILURES recognises (authentication, no repository, unreachable)."""
    found = classify(stderr, REMOTE_FAILURES)
    offline = "; or pass --offline to use what this clone already has" if doing.startswith("fetch") else ""
    if found is None:
        return RemoteError(
            f"cannot {doing} remote {remote!r}: {_first_line(stderr.encode())}",
            hint=f"check the remote and your network{offline}",
        )
    failure, line = found
    return RemoteError(
        f"cannot {doing} remote {remote!r} ({failure.what}): {line}",
        hint=failure.hint.format(where=remote) + offline,
    )


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.startswith("hint:"):
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return "(no message)"


def not_initialised(where: str) -> NotFoundError:
    return NotFoundError(f"no mreg registry in {where}", hint="run 'mreg init' first")
