"""The two mreg branches and the alias tags on one repository, kept in step with its remote.

Every write is: fetch, build one commit on the tip, push without force, move the local ref with a
compare-and-swap; a rejected push or a lost CAS rebuilds on the new tip (SPEC §8: v4 and v5, never
a lost or duplicated version).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mreg.errors import ConflictError, RemoteError
from mreg.git.history import verify_advance
from mreg.git.repo import GitRepo, PushResult
from mreg.layout import (
    ALIASES_BRANCH,
    OFFLINE_REF,
    REGISTRY_BRANCH,
    REGISTRY_REF,
    VERIFIED_REF,
    VERSION_FILE,
    registry_refspecs,
    tracking_ref,
)

# Enough for dozens of concurrent writers on one ref; MREG_MAX_ATTEMPTS lowers it (tests, impatient CI).
MAX_ATTEMPTS = int(os.environ.get("MREG_MAX_ATTEMPTS", "40"))
LOCK_PATIENCE = 8  # consecutive "cannot lock ref" refusals of one ref before it counts as a stale lock


class Retry(Exception):
    """Raised by a build step when what it read is no longer true: rebuild on a fresh tip."""


@dataclass(frozen=True)
class Change:
    files: Mapping[str, bytes | None]
    message: str
    result: object = None


Build = Callable[[str | None], Change]


class Branches:
    def __init__(self, git: GitRepo, remote: str | None, *, offline: bool = False) -> None:
        self.git = git
        self.remote = remote if remote and git.remote_url(remote) else None
        self.offline = offline
        self._fetched = False
        self._locked: tuple[str, int] = (
            "",
            0,
        )  # the ref the remote last refused to lock, and how many times in a row
        self.notify: Callable[[str], None] = lambda message: None

    @property
    def online(self) -> bool:
        return self.remote is not None and not self.offline

    def tip(self, branch: str) -> str | None:
        return self.git.rev_parse(f"refs/heads/{branch}")

    # -- fetching ----------------------------------------------------------------------------------
    def fetch(self, *, force: bool = False) -> None:
        """Bring the registry refs from the remote, verify the registry branch is an append-only
        continuation of what this clone verified before (SPEC §3a.1), then fast-forward the local
        branches. A violation raises HistoryError (exit 5) with no local branch moved. A read never
        writes to the remote: offline registrations go out only through `publish_offline` (writes)."""
        if not self.online or (self._fetched and not force):
            return
        assert self.remote is not None
        self._fetched = True
        self.git.fetch(self.remote, registry_refspecs(self.remote))
        self._fast_forward(ALIASES_BRANCH)  # governed by the host's review rules, checked on its own
        theirs = self.git.rev_parse(tracking_ref(self.remote, REGISTRY_BRANCH))
        if theirs is not None:
            verify_advance(self.git, self.git.rev_parse(VERIFIED_REF), theirs, remote=self.remote)
            self.advance_verified(theirs)
        self._fast_forward(REGISTRY_BRANCH)

    def verified(self) -> str | None:
        return self.git.rev_parse(VERIFIED_REF)

    def advance_verified(self, commit: str) -> None:
        """Move the verified anchor forward to `commit` (never back: a concurrent run may be ahead)."""
        for _ in range(MAX_ATTEMPTS):
            cur = self.git.rev_parse(VERIFIED_REF)
            if cur == commit or (cur is not None and self.git.is_ancestor(commit, cur)):
                return
            if self.git.update_ref(VERIFIED_REF, commit, cur, "mreg: verified"):
                return

    def _fast_forward(self, branch: str) -> None:
        assert self.remote is not None
        theirs = (
            self.verified()
            if branch == REGISTRY_BRANCH
            else self.git.rev_parse(tracking_ref(self.remote, branch))
        )
        if theirs is None:
            return
        for _ in range(MAX_ATTEMPTS):
            ours = self.tip(branch)
            if ours == theirs:
                return
            if ours is not None and not self.git.is_ancestor(ours, theirs):
                if self.git.is_ancestor(theirs, ours):
                    return  # ahead: unpushed local commits go out with the next write
                if branch == REGISTRY_BRANCH:
                    self.notify(
                        f"this clone holds registrations made with --offline that are not published; {self.remote} "
                        "moved on meanwhile, so the next write command publishes them under the next free numbers"
                    )
                    return
                raise ConflictError(
                    f"local branch {branch} has diverged from {self.remote}/{branch}",
                    hint=f"inspect with: git log {branch}...{self.remote}/{branch}",
                )
            where = self.git.checked_out(branch)
            if where is not None:
                self.notify(
                    f"{branch} is checked out in {where}: not updated from {self.remote} (mreg never moves a checked-out "
                    f"branch); update it there with: git -C {where} merge --ff-only {self.remote}/{branch}"
                )
                return
            if self.git.update_ref(
                f"refs/heads/{branch}", theirs, ours, f"mreg: fast-forward from {self.remote}"
            ):
                return

    def publish_offline(self) -> None:
        """A write command's duty (SPEC §3a.6): registrations this clone made with --offline, while the
        remote moved on, are replayed onto the remote's tip under the next free numbers and published."""
        if not self.online:
            return
        ours, theirs = self.tip(REGISTRY_BRANCH), self.verified()
        if ours is None or theirs is None or self.git.is_ancestor(ours, theirs):
            return
        marker = self.git.rev_parse(OFFLINE_REF)
        ours_offline = marker is not None and self.git.is_ancestor(ours, marker)
        if self.git.is_ancestor(theirs, ours) and ours_offline:
            return  # ahead by this clone's own offline registrations: the next push carries them
        if not ours_offline or not self._republish(ours, theirs):
            raise ConflictError(
                f"local branch {REGISTRY_BRANCH} has commits that neither {self.remote} nor this clone's --offline "
                "registrations account for",
                hint=f"inspect with: git log {REGISTRY_BRANCH}...{self.remote}/{REGISTRY_BRANCH}",
            )

    def _republish(self, ours: str, theirs: str) -> bool:
        """Replay each local-only registration onto the remote's tip under the next free version
        number, publish, and say what each became."""
        from mreg.layout import manifest_path
        from mreg.manifest import dump_manifest, load_yaml

        assert self.remote is not None
        local_only = self.git.out("rev-list", "--reverse", f"{theirs}..{ours}").split()
        added: list[tuple[str, bytes]] = []
        for commit in local_only:
            parent = self.git.rev_parse(f"{commit}^")
            if parent is None:
                continue  # a local `init` of its own: the remote's registry replaces it
            changed = self.git.run(
                "diff-tree", "-r", "-z", "--no-commit-id", "--diff-filter=A", "--name-only", parent, commit
            )
            for path in (p.decode() for p in changed.stdout.split(b"\0") if p):
                parts = path.split("/")
                if len(parts) != 4 or parts[0] != "models" or parts[2] != "versions":
                    return False  # not a registration: leave it to a person
                blob = self.git.read_blob(f"{commit}:{path}")
                if blob is None:
                    return False
                added.append((parts[1], blob))
        for _ in range(MAX_ATTEMPTS):
            tip = self.verified() or theirs
            renamed = []
            for model, blob in added:
                doc = load_yaml(blob, where=f"offline registration of {model}")
                listing = self.git.ls_tree(tip, f"models/{model}/versions")
                taken = [int(m.group(1)) for e in listing if (m := VERSION_FILE.match(e.name))]
                number = max(taken, default=0) + 1
                renamed.append(f"{model}@v{doc['version']} -> {model}@v{number}")
                doc["version"] = number
                tree = self.git.write_tree(
                    self.git.rev_parse(f"{tip}^{{tree}}"), {manifest_path(model, number): dump_manifest(doc)}
                )
                tip = self.git.commit_tree(tree, [tip], f"register {model} v{number}\n")
            pushed = self.git.push(self.remote, [f"{tip}:refs/heads/{REGISTRY_BRANCH}"])
            if pushed.ok:
                self.git.run("update-ref", tracking_ref(self.remote, REGISTRY_BRANCH), tip, check=False)
                self.advance_verified(tip)
                self.git.run("update-ref", "-d", OFFLINE_REF, check=False)
                if self.git.update_ref(
                    f"refs/heads/{REGISTRY_BRANCH}", tip, ours, "mreg: republished offline registrations"
                ):
                    for line in renamed:
                        self.notify(f"published an offline registration: {line}")
                    return True
                return True  # another process here moved the branch; the remote has our work
            backoff(0)
            self.fetch(force=True)
        return False

    # -- committing --------------------------------------------------------------------------------
    def commit(self, branch: str, build: Build, *, allow_create: bool = False) -> tuple[str, Change]:
        """Build a commit on the branch tip and publish it; retried until it lands or is refused."""
        ref = f"refs/heads/{branch}"
        self.git.identity()  # fail before any work when git cannot say who is writing
        where = self.git.checked_out(branch)
        if where is not None:
            raise ConflictError(
                f"{branch} is checked out in {where}: mreg never writes to a checked-out branch",
                hint=f"switch that checkout to another branch (git -C {where} switch -), then run the command again",
            )
        last_reason = ""
        for attempt in range(MAX_ATTEMPTS):
            self.fetch(force=attempt > 0)
            if branch == REGISTRY_BRANCH:
                self.publish_offline()
            base = self.tip(branch)
            if base is None and not allow_create:
                from mreg.git.repo import not_initialised

                raise not_initialised(str(self.git.work_tree or self.git.git_dir))
            try:
                change = build(base)
            except Retry as exc:
                last_reason = str(exc)
                backoff(attempt)
                continue
            base_tree = self.git.rev_parse(f"{base}^{{tree}}") if base else None
            tree = self.git.write_tree(base_tree, change.files)
            commit = self.git.commit_tree(tree, [base] if base else [], change.message + "\n")
            if self.online:
                assert self.remote is not None
                pushed = self.git.push(self.remote, [f"{commit}:{ref}"])
                if not pushed.ok:
                    self._give_up_on_a_stale_lock(pushed)
                    last_reason = "the remote moved on"
                    backoff(attempt)
                    continue
                self._settle(ref, commit)
                return commit, change
            if self.git.update_ref(ref, commit, base, f"mreg: {change.message}"):
                if branch == REGISTRY_BRANCH:  # tracked, so a later write republishes exactly these
                    self.git.run(
                        "update-ref", "-m", "mreg: offline registration", OFFLINE_REF, commit, check=False
                    )
                return commit, change
            last_reason = "another writer moved the branch"
            backoff(attempt)
        raise ConflictError(f"could not write {branch} after {MAX_ATTEMPTS} attempts: {last_reason}")

    def _settle(self, ref: str, commit: str) -> None:
        """After a successful push, move the local ref forward unless a newer commit is already there."""
        assert self.remote is not None
        self.git.run(
            "update-ref", tracking_ref(self.remote, ref.removeprefix("refs/heads/")), commit, check=False
        )
        if ref == REGISTRY_REF:
            self.advance_verified(commit)
        for _ in range(MAX_ATTEMPTS):
            ours = self.git.rev_parse(ref)
            if ours is not None and (ours == commit or not self.git.is_ancestor(ours, commit)):
                return
            if self.git.update_ref(ref, commit, ours, "mreg: published"):
                return

    # -- tags --------------------------------------------------------------------------------------
    def create_tag(self, name: str, target: str, message: str, *, sign: bool = False) -> bool:
        """Create and publish one tag; False when the name is taken (locally or on the remote)."""
        ref = f"refs/tags/{name}"
        self.git.identity()
        if not self.online:
            return self.git.create_tag(name, target, message, sign=sign)
        assert self.remote is not None
        if self.git.rev_parse(ref) is not None:
            return False
        # Publish first, name it here second (as a commit is pushed before the local branch moves): a
        # run killed in between leaves at most an unnamed tag object, never a local tag the remote
        # lacks, which would show an alias move nobody else sees and clash with the seq's real owner.
        oid = self.git.tag_object(name, target, message, sign=sign)
        pushed = self.git.push(self.remote, [f"{oid}:{ref}"])
        if not pushed.ok:
            self._give_up_on_a_stale_lock(pushed)
            return False  # somebody published this seq first; nothing here to undo
        self.git.update_ref(ref, oid, None, "mreg: published")  # False when a fetch named it already
        return True

    def _give_up_on_a_stale_lock(self, pushed: PushResult) -> None:
        """A push that loses a race finds the ref locked for milliseconds; the same ref locked push after
        push, with nobody's work showing up, is a lock a crashed git process left on the remote."""
        ref = pushed.locked_ref
        times = self._locked[1] + 1 if ref is not None and ref == self._locked[0] else 1
        self._locked = (ref or "", times if ref else 0)
        if ref is not None and times >= LOCK_PATIENCE:
            raise RemoteError(
                f"remote {self.remote!r} cannot lock {ref}: {ref}.lock exists there",
                hint="a git process on the remote crashed and left it; if no push is running, remove the lock file on the remote",
            )

    def ensure_pushed(self, branch: str) -> None:
        """A tag must never point at a commit the remote lacks: publish local-only registry commits."""
        if not self.online:
            return
        assert self.remote is not None
        if branch == REGISTRY_BRANCH:
            self.publish_offline()
        ours = self.tip(branch)
        theirs = self.git.rev_parse(tracking_ref(self.remote, branch))
        if ours and ours != theirs and (theirs is None or not self.git.is_ancestor(ours, theirs)):
            pushed = self.git.push(self.remote, [f"{ours}:refs/heads/{branch}"])
            if not pushed.ok:
                raise RemoteError(f"cannot publish {branch} to {self.remote}: {pushed.detail.strip()[:200]}")
            self.git.run("update-ref", tracking_ref(self.remote, branch), ours, check=False)
            if branch == REGISTRY_BRANCH:
                self.advance_verified(ours)


def backoff(attempt: int) -> None:
    time.sleep(min(0.5, 0.005 * (2 ** min(attempt, 7))) * random.random())
