"""The registry branch is an append-only log (SPEC §3a.1): the one owner of that check.

Every fetch hands the remote's new tip to `verify_advance` before any local registry ref moves:
the tip must descend from the last tip this clone verified (`refs/mreg/verified/registry`), and
each commit in between may only *add* records in their schema'd places — never modify, delete or
rename one, never merge (a merge's combined diff could hide a changed file). A fresh clone, which
has no anchor yet, runs the same per-commit pass over the whole history, once. (It used to check
only the tip's tree and compare the number of commits with the number of files, which a commit that
edits one record and adds another passes: the attack of issue 15's review. Soundness first: the
pass costs git ~0.5 s at 10,000 registrations and ~10 s at 100,000, once per clone or cache.)
`mreg check` runs the per-commit pass over the whole history too, so CI names every such commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mreg.errors import IntegrityError
from mreg.git.repo import GitRepo
from mreg.layout import (
    ADDABLE_PATH_BYTES,
    ADDABLE_PATHS_TEXT,
    RECORD_PATH_BYTES,
    REGISTRY_BRANCH,
    version_of_file,
)

ROOT_FILES = (b"README.md",)  # what `mreg init` writes in the branch's first commit
_HEX40 = re.compile(rb"^[0-9a-f]{40}\Z")
MAX_REPORTED = 50  # violations named by one scan (a rewritten history can touch every file)


class HistoryError(IntegrityError):
    """The remote's registry history breaks the append-only rule (exit 5)."""

    rewritten = False  # True: the remote tip does not descend from the verified one at all


@dataclass(frozen=True)
class Violation:
    commit: str
    path: str | None
    what: str
    author: str = ""

    def describe(self) -> str:
        by = f" by {self.author}" if self.author else ""
        where = f" {self.path!r}" if self.path is not None else ""
        return f"commit {self.commit[:12]}{by} {self.what}{where}"


def is_record_path(path: bytes) -> bool:
    return RECORD_PATH_BYTES.match(path) is not None


def _allowed(path: bytes, *, root: bool) -> bool:
    """A path a commit may add: a manifest or an evaluation record (or, in the root commit, README)."""
    return ADDABLE_PATH_BYTES.match(path) is not None or (root and path in ROOT_FILES)


_VERB = {"M": "modifies", "D": "deletes", "T": "changes the type of", "R": "renames", "C": "copies"}


def scan_commits(git: GitRepo, tip: str, since: str | None = None) -> list[Violation]:
    """Every commit in `since..tip` (all of `tip`'s history when `since` is None) checked alone:
    a single `git log --raw` pass, no merges, additions of records only."""
    rng = [f"^{since}", tip] if since else [tip]
    proc = git.run(
        "log",
        "-z",
        "--reverse",
        "--raw",
        "--root",
        "--no-renames",
        "--no-abbrev",
        "--format=%x01%H %P",
        "--end-of-options",
        *rng,
        check=False,
    )
    if proc.returncode != 0:
        return [Violation(tip, None, "cannot be read from this repository")]
    found: list[Violation] = []
    tokens = proc.stdout.split(b"\0")
    commit = b""
    parent = b""
    root = False
    added: list[tuple[bytes, bytes, bytes]] = []  # (commit, its parent, path): none may exist in the parent
    seen: set[bytes] = set()
    i = 0
    while i < len(tokens) and len(found) < MAX_REPORTED:
        tok = tokens[i].lstrip(b"\n")
        i += 1
        if tok.startswith(b":"):  # a raw entry; the path is the next token, whatever its bytes
            path = tokens[i] if i < len(tokens) else b""
            i += 1
            meta = tok[1:].split(b" ")
            status = meta[4][:1].decode("ascii", "replace") if len(meta) == 5 else "?"
            new_mode = meta[1] if len(meta) == 5 else b""
            shown = path.decode("utf-8", "replace")
            if status != "A":
                found.append(Violation(commit.decode(), shown, _VERB.get(status, "changes")))
            elif new_mode != b"100644":
                found.append(
                    Violation(
                        commit.decode(),
                        shown,
                        f"adds a non-file entry (mode {new_mode.decode('ascii', 'replace')})",
                    )
                )
            elif not _allowed(path, root=root):
                found.append(Violation(commit.decode(), shown, f"adds a file outside {ADDABLE_PATHS_TEXT}"))
            elif since is None:  # the whole history from its root: a path added twice is a second entry
                if path in seen:
                    found.append(Violation(commit.decode(), shown, "adds a second entry for the registered"))
                seen.add(path)
            elif parent:  # a range: the path may have been added before it, so ask the parent
                added.append((commit, parent, path))
        elif tok.startswith(b"\x01"):
            fields = tok[1:].split(b" ")
            commit = fields[0] if _HEX40.match(fields[0]) else b"?" * 40
            parents = [p for p in fields[1:] if p]
            root = not parents
            parent = parents[0] if len(parents) == 1 and _HEX40.match(parents[0]) else b""
            if len(parents) > 1:
                found.append(
                    Violation(
                        commit.decode(),
                        None,
                        "is a merge (the registry branch is a straight line of registrations)",
                    )
                )
    # A tree may list one name twice (git's own writers never do; `mktree` does as told): the second
    # entry shows as an addition of a path the parent already has, and whichever entry a reader takes
    # decides what the version is. Such an "addition" is a change of a registered record.
    specs = [f"{p.decode()}:{path.decode('utf-8', 'surrogateescape')}" for _, p, path in added]
    for (c, _, path), oid in zip(added, git.object_ids(specs) if specs else [], strict=True):
        if oid is not None and len(found) < MAX_REPORTED:
            found.append(
                Violation(
                    c.decode(), path.decode("utf-8", "replace"), "adds a second entry for the registered"
                )
            )
    return _with_authors(git, found)


def scan_fresh(git: GitRepo, tip: str) -> list[Violation]:
    """The fresh-clone check: the tip's tree first (every path a record, no merge anywhere: cheap, and
    it names the culprit of the commonest damage precisely), then every commit on its own."""
    found = scan_tree(git, tip)
    return found if found else scan_commits(git, tip)


def scan_tree(git: GitRepo, tip: str) -> list[Violation]:
    """Every path at `tip` is a record, and no merge anywhere in its history (not sufficient alone:
    an edit of a record together with an addition leaves the tip all records)."""
    found: list[Violation] = []
    merge = (
        git.run("rev-list", "--min-parents=2", "--max-count=1", "--end-of-options", tip, check=False)
        .stdout.decode()
        .strip()
    )
    if merge:
        found.append(
            Violation(merge, None, "is a merge (the registry branch is a straight line of registrations)")
        )
    proc = git.run("ls-tree", "-r", "-z", "--full-tree", "--end-of-options", tip, check=False)
    seen: set[bytes] = set()
    for item in proc.stdout.split(b"\0"):
        if not item or len(found) >= MAX_REPORTED:
            continue
        meta, _, path = item.partition(b"\t")
        mode = meta.split(b" ")[0]
        if path in seen:
            found.append(Violation(tip, path.decode("utf-8", "replace"), "holds two entries for"))
        seen.add(path)
        if mode != b"100644" or not _allowed(path, root=True):
            culprit = git.run(
                "log",
                "-1",
                "--format=%H",
                "--end-of-options",
                tip,
                "--",
                path.decode("utf-8", "replace"),
                check=False,
            )
            who = culprit.stdout.decode().strip() or tip
            found.append(
                Violation(
                    who,
                    path.decode("utf-8", "replace"),
                    f"adds a file outside {ADDABLE_PATHS_TEXT}",
                )
            )
    return _with_authors(git, found) if found else found


# Names and emails are read through `%<(120,trunc)`: git cuts them to 120 columns (a 100 MB author
# never reaches Python) and pads them with blanks, removed here.
IDENT_FORMAT = "%<(120,trunc)%an <%<(120,trunc)%ae>"


def tidy_ident(text: str) -> str:
    return re.sub(r" +>", ">", re.sub(r" +<", " <", text)).strip()


def _with_authors(git: GitRepo, found: list[Violation]) -> list[Violation]:
    """Authors are looked up only for the commits named: none of their bytes enter the scan's parsing."""
    if not found:
        return found
    shas = sorted({v.commit for v in found if _HEX40.match(v.commit.encode())})
    authors: dict[str, str] = {}
    if shas:
        out = git.run(
            "log", "--no-walk=unsorted", "-z", f"--format=%H {IDENT_FORMAT}", *shas, check=False
        ).stdout
        for rec in out.split(b"\0"):
            sha, _, who = rec.strip(b"\n").partition(b" ")
            authors[sha.decode("ascii", "replace")] = tidy_ident(who.decode("utf-8", "replace"))
    return [Violation(v.commit, v.path, v.what, authors.get(v.commit, "")) for v in found]


def verify_advance(git: GitRepo, verified: str | None, theirs: str, *, remote: str) -> None:
    """Raise HistoryError unless `theirs` is an append-only continuation of `verified`."""
    where = f"{remote}/{REGISTRY_BRANCH}"
    if verified is not None and verified != theirs and not git.is_ancestor(verified, theirs):
        if git.is_ancestor(theirs, verified):
            return  # the remote is behind what this clone verified (a fetch raced our own push): nothing new
        who = git.run(
            "log", "-1", f"--format={IDENT_FORMAT}", "--end-of-options", theirs, check=False
        ).stdout.decode("utf-8", "replace")
        who = tidy_ident(who)
        exc = HistoryError(
            f"{where} was rewritten: its tip {theirs[:12]} (by {who}) does not descend from {verified[:12]}, "
            "which this clone verified; a registered version never changes",
            hint="nothing here was changed; ask the registry's maintainers to restore the branch (their clones still hold it)",
        )
        exc.rewritten = True
        raise exc
    if verified == theirs:
        return
    found = scan_commits(git, theirs, verified) if verified is not None else scan_fresh(git, theirs)
    if found:
        more = f" (+{len(found) - 1} more; 'mreg check' lists them)" if len(found) > 1 else ""
        raise HistoryError(
            f"{where}: {found[0].describe()}: a registered version never changes{more}",
            hint="nothing here was changed; the branch must be restored to its append-only history",
        )


def record_blobs_ever(git: GitRepo, tip: str) -> dict[str, str]:
    """Every distinct record blob (oid -> its first path) the history of `tip` ever held: what `gc`
    must keep the bytes of, even for a record a bad commit removed."""
    raw = git.run(
        "log",
        "-z",
        "--raw",
        "--root",
        "--no-renames",
        "--no-abbrev",
        "--format=",
        "--end-of-options",
        tip,
        "--",
        "models",
        check=False,
    ).stdout
    blobs: dict[str, str] = {}
    tokens = raw.split(b"\0")
    i = 0
    while i < len(tokens):
        tok = tokens[i].lstrip(b"\n")
        i += 1
        if not tok.startswith(b":"):
            continue
        path = tokens[i] if i < len(tokens) else b""
        i += 1
        meta = tok[1:].split(b" ")
        if len(meta) != 5 or not is_record_path(path):
            continue
        for oid, mode in ((meta[2], meta[0]), (meta[3], meta[1])):
            if mode == b"100644" and oid.strip(b"0"):
                blobs.setdefault(oid.decode("ascii"), path.decode("utf-8", "replace"))
    return blobs


def added_files(
    git: GitRepo, tip: str, under: str, *, since: str | None = None, oldest_first: bool = False
) -> list[tuple[str, int, str, str]]:
    """(commit, time, author, path) of every file the first-parent commits of `tip` (after `since`)
    added under `under`, newest first unless `oldest_first` — one `git log`; the author through
    git's own truncation (`IDENT_FORMAT`), so no author's bytes are parsed beyond it."""
    rng = [f"^{since}", tip] if since else [tip]
    proc = git.run(
        "log",
        "-z",
        *(["--reverse"] if oldest_first else []),
        "--first-parent",
        "--diff-filter=A",
        "--name-only",
        "--no-renames",
        f"--format=%x01%H %ct%x00{IDENT_FORMAT}",
        "--end-of-options",
        *rng,
        "--",
        under,
        check=False,
    )
    out = []
    tokens = proc.stdout.split(b"\0")
    i, sha, stamp, who = 0, "", 0, ""
    while i < len(tokens):
        tok = tokens[i].lstrip(b"\n")
        i += 1
        if tok.startswith(b"\x01"):  # "<sha> <time>", then the author as the next token, whatever its bytes
            parts = tok[1:].decode("ascii", "replace").split()
            who = (
                tidy_ident(tokens[i].decode("utf-8", "replace")) if i < len(tokens) else ""
            )  # git pads to 120
            i += 1
            ok = (
                len(parts) == 2
                and _HEX40.match(parts[0].encode()) is not None
                and parts[1].isascii()
                and parts[1].isdigit()
            )
            sha, stamp = (parts[0], int(parts[1])) if ok else ("", 0)
        elif tok and sha:
            out.append((sha, stamp, who, tok.decode("utf-8", "replace")))
    return out


def registrations(git: GitRepo, tip: str, versions_dir: str) -> list[tuple[str, int, str, int]]:
    """(commit, time, author, version) for each manifest of the model, from the path each commit added."""
    out = []
    for sha, stamp, who, path in added_files(git, tip, versions_dir):
        number = (
            version_of_file(path[len(versions_dir) + 1 :]) if path.startswith(versions_dir + "/") else None
        )
        if number is not None:
            out.append((sha, stamp, who, number))
    return out


def additions(git: GitRepo, tip: str, directory: str) -> dict[str, str]:
    """path -> the commit that added it, for every file under `directory` in `tip`'s history; in an
    append-only history, the one commit each file ever had."""
    out: dict[str, str] = {}
    for sha, _, _, path in added_files(git, tip, directory):
        out.setdefault(path, sha)
    return out
