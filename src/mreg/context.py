"""`Context`: what every use case in `mreg.ops` works with — the repository, its two branches and
tags kept in step with the remote, the configuration, the store, and reading and resolving what the
registry branch holds (SPEC §2, §3a). Internal: the public API is `mreg.Registry`, a typed facade
over a Context; ops receive a Context and never a Registry."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg.cache.valid import MEMO
from mreg.errors import IntegrityError, NotFoundError
from mreg.git import tags as alias_tags
from mreg.git.branches import Branches
from mreg.git.repo import GitRepo, not_initialised
from mreg.layout import (
    ALIASES_BRANCH,
    ALIASES_REF,
    CONFIG_PATH,
    REGISTRY_BRANCH,
    REGISTRY_REF,
    VERSION_FILE,
    manifest_path,
    versions_dir,
)
from mreg.manifest import (
    REGISTRY_SCHEMA,
    Manifest,
    load_checked,
    parse_manifest,
    schema_errors,
)
from mreg.ports import ObjectStore
from mreg.refs import Ref, as_datetime, parse_ref
from mreg.resolved import Version

if TYPE_CHECKING:
    from mreg.backing import Standing

DEFAULT_REMOTE = "origin"
MAX_LOCK_BYTES = 4 * 1024 * 1024  # a lock of 10,000 packages is ~400 KiB
DEFAULT_PROTECTED = ("production",)


@dataclass(frozen=True)
class Config:
    """mreg.yaml on the governed branch as this clone last verified it (SPEC §3); `raw` is the whole
    schema-valid document."""

    store: str | None = None
    remote: str = DEFAULT_REMOTE
    protected_aliases: tuple[str, ...] = DEFAULT_PROTECTED
    direct_rollback: bool = False
    allow_unreviewed: bool = False
    signers: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


def to_unix(at: datetime | None) -> int | None:
    return int(at.timestamp()) if at is not None else None


class Context:
    """One registry: a git repository (or a bare cache of a remote's registry refs) plus its store."""

    def __init__(
        self, git: GitRepo, *, offline: bool = False, remote: str | None = None, label: str | None = None
    ) -> None:
        self.git = git
        self.offline = offline
        self.label = label or str(git.work_tree or git.git_dir)
        self.remote_override = remote
        self._store: ObjectStore | None = None
        # `check` examines a remote tip that failed verification, to name every problem in it; nothing
        # else ever reads an unverified commit.
        self.examined: str | None = None
        self.is_cache = False  # a bare cache of a remote's registry refs (`--registry URL`), not a clone
        # Things worth telling a person that are not errors (the CLI prints them as warnings).
        self.notify: Callable[[str], None] = lambda message: None

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, path: str | os.PathLike[str] = ".", *, registry: str | None = None, offline: bool = False
    ) -> Context:
        """Open the registry of the repository at `path`, or of a remote `registry` URL without a clone."""
        if registry:
            from mreg.cache.registries import open_registry_cache

            git = open_registry_cache(registry, offline=offline)
            reg = cls(git, offline=offline, remote=DEFAULT_REMOTE, label=registry)
            reg.is_cache = True
            return reg
        return cls(GitRepo.discover(path), offline=offline)

    @cached_property
    def branches(self) -> Branches:
        # Offline no remote is ever used: skip parsing and schema-checking mreg.yaml just to name it (bench row 2).
        branches = Branches(self.git, None if self.offline else self.remote_name, offline=self.offline)
        branches.notify = lambda message: self.notify(message)
        return branches

    @property
    def remote_name(self) -> str:
        if self.remote_override:
            return self.remote_override
        local = self.read_config_blob(ALIASES_REF)
        if local is not None:
            remote = local.get("remote")
            if isinstance(remote, str) and remote:
                return remote
        return DEFAULT_REMOTE

    def read_config_blob(self, rev: str) -> dict[str, Any] | None:
        blob = self.git.read_blob(f"{rev}:{CONFIG_PATH}")
        if blob is None:
            return None
        where = f"{ALIASES_BRANCH}:{CONFIG_PATH}"

        def validate(doc: Any) -> dict[str, Any]:
            errors = schema_errors(doc, REGISTRY_SCHEMA)
            if errors:
                raise IntegrityError(f"{where}: {errors[0]}")
            return dict(doc)

        return load_checked(
            blob,
            schema_id=REGISTRY_SCHEMA,
            where=where,
            validate=validate,
            memo=MEMO,
            yaml_errors_are_integrity=False,
        )

    def sync(self) -> None:
        """Reads fetch the registry refs first unless offline: a deploy must never read a stale alias."""
        self.branches.fetch()

    @cached_property
    def config(self) -> Config:
        self.sync()
        data = self.read_config_blob(ALIASES_REF)
        if data is None:
            if self.git.rev_parse(REGISTRY_REF) is None:
                raise not_initialised(self.label)
            data = {"schema": REGISTRY_SCHEMA}
        return Config(
            store=data.get("store"),
            remote=data.get("remote", DEFAULT_REMOTE),
            protected_aliases=tuple(data.get("protected_aliases", DEFAULT_PROTECTED)),
            direct_rollback=bool(data.get("direct_rollback", False)),
            allow_unreviewed=bool(data.get("allow_unreviewed", False)),
            signers=tuple(data.get("signers") or ()),
            raw=data,
        )

    def require_initialised(self) -> str:
        """The registry branch's tip after syncing; not found (exit 3) when there is none."""
        self.sync()
        tip = self.examined or self.git.rev_parse(REGISTRY_REF)
        if tip is None:
            raise not_initialised(self.label)
        return tip

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            from mreg.store import open_store

            self._store = open_store(self.config.store, default_dir=self.default_store_dir)
        return self._store

    @property
    def default_store_dir(self) -> Path:
        return self.git.common_dir / "mreg" / "objects"

    # -- reading the registry branch ---------------------------------------------------------------
    def registry_commit(self, at: datetime | None = None) -> str:
        tip = self.require_initialised()
        if at is None:
            return tip
        commit = self.git.commit_before(REGISTRY_REF, int(at.timestamp()))
        if commit is None:
            raise NotFoundError(f"the registry did not exist yet at {at.isoformat()}")
        return commit

    def versions(self, model: str, commit: str) -> list[int]:
        return sorted(self.version_blobs(model, commit))

    def version_blobs(self, model: str, commit: str) -> dict[int, str]:
        """Each version of the model at `commit` and the blob id of its manifest (one ls-tree)."""
        out = {}
        for entry in self.git.ls_tree(commit, versions_dir(model)):
            m = VERSION_FILE.match(entry.name)
            if m and entry.kind == "blob":
                out[int(m.group(1))] = entry.oid
        return out

    def models(self, commit: str) -> list[str]:
        return sorted(e.name for e in self.git.ls_tree(commit, "models") if e.kind == "tree")

    def load_manifest(self, model: str, version: int, commit: str) -> Manifest:
        path = manifest_path(model, version)
        blob = self.git.read_blob(f"{commit}:{path}")
        if blob is None:
            raise NotFoundError(f"model {model!r} has no version v{version}")
        manifest = parse_capped(blob, where=f"{REGISTRY_BRANCH}:{path}")
        if manifest["model"] != model or manifest["version"] != version:
            raise IntegrityError(
                f"{REGISTRY_BRANCH}:{path}: manifest says {manifest['model']}@v{manifest['version']}, its path says {model}@v{version}"
            )
        return manifest

    def load_manifests(self, model: str, versions: Sequence[int], commit: str) -> dict[int, Manifest]:
        """Many manifests of one model in one `cat-file --batch`."""
        blobs = self.git.read_blobs([f"{commit}:{manifest_path(model, v)}" for v in versions])
        out = {}
        for v, blob in zip(versions, blobs, strict=True):
            if blob is not None:
                out[v] = parse_capped(blob, where=f"{REGISTRY_BRANCH}:{manifest_path(model, v)}")
        return out

    def alias_events(self, model: str, alias: str | None = None) -> list[alias_tags.AliasEvent]:
        return alias_tags.read_events(self.git, model, alias)

    # -- resolving references (SPEC §2) ------------------------------------------------------------
    def resolve(
        self,
        ref: str | Ref,
        at: datetime | str | None = None,
        *,
        allow_unreviewed: bool = False,
        with_aliases: bool = True,
    ) -> Version:
        """Resolve a reference as the registry stood at `at` (now by default; a datetime or WHEN text).

        An alias is followed only to a tag that passes `tag_problem`, and for a protected alias only
        to a backed one (SPEC §3a.3); `allow_unreviewed` is the deliberate, visible way around the latter.
        """
        at = as_datetime(at)
        v = self._resolve(ref, at, allow_unreviewed)
        if not with_aliases:  # `mreg resolve`/`pull` print or fetch one version: they skip the alias scan
            return v
        return Version(v.model, v.version, v.manifest, v.commit, self.aliases_of(v.model, v.version, at))

    def _resolve(self, ref: str | Ref, at: datetime | None, allow_unreviewed: bool) -> Version:
        r = parse_ref(ref) if isinstance(ref, str) else ref
        commit = self.registry_commit(at)
        if r.alias is not None:
            events = self.alias_events(r.model, r.alias)
            standing = self.standing(r.model, r.alias, events, at=at)
            event = standing.event
            if standing.state == "unbacked":
                if not allow_unreviewed:
                    raise IntegrityError(
                        f"{r.model}@{r.alias}: {standing.problem}; refusing to follow an unreviewed tag"
                        + _last_backed(events, standing),
                        hint="run 'mreg apply' to restore the approved value, or pass --allow-unreviewed to follow it anyway",
                    )
                self.notify(f"{r.model}@{r.alias}: following UNREVIEWED {standing.problem}")
            elif standing.state == "pending" and standing.pin is not None and standing.approved_in:
                self.notify(
                    f"{r.model}@{r.alias}: {ALIASES_BRANCH} approved {standing.pin.describe()} in "
                    f"{standing.approved_in[:12]}, not yet applied; still v{event.version if event else '?'}"
                )
            if event is None:
                self.raise_unknown_model(r.model, commit)
                when = f" at {at.isoformat()}" if at else ""
                if standing.pin is not None and standing.pin.version is not None:
                    raise NotFoundError(
                        f"{r.model}@{r.alias}: {ALIASES_BRANCH} approves {standing.pin.describe()}, not yet applied{when}",
                        hint="run 'mreg apply' (CI normally does after each merge)",
                    )
                waiting = self._review_branches(r.model, r.alias)
                raise NotFoundError(
                    f"model {r.model!r} has no alias {r.alias!r}{when}",
                    hint=f"a move is waiting for review on branch {waiting[-1]}: once merged, 'mreg apply' sets it"
                    if waiting
                    else None,
                )
            if event.version is None:
                raise NotFoundError(
                    f"alias {r.alias!r} of {r.model!r} was removed ({event.tag} by {event.tagger})"
                )
            problem = self.tag_problem(event)
            if problem:
                raise IntegrityError(
                    f"{r.model}@{r.alias}: {problem}", hint="'mreg check' reports every such tag"
                )
            manifest = self.load_manifest(r.model, event.version, event.commit)
            if manifest["digest"] != event.digest:
                raise IntegrityError(
                    f"tag {event.tag} names digest {event.digest}, the manifest has {manifest['digest']}"
                )
            return Version(r.model, event.version, manifest, event.commit)
        versions = self.versions(r.model, commit)
        if not versions:
            self.raise_unknown_model(r.model, commit, at=at)
        if r.version is None:
            number = versions[-1]
        else:
            number = r.version
            if number not in versions:
                raise NotFoundError(f"model {r.model!r} has no version v{number} (latest is v{versions[-1]})")
        return Version(r.model, number, self.load_manifest(r.model, number, commit), commit)

    def _review_branches(self, model: str, alias: str) -> list[str]:
        from mreg.layout import REVIEW_PREFIX

        remote = self.branches.remote
        if remote is None:
            return []
        rows = self.git.for_each_ref(
            f"refs/remotes/{remote}/{REVIEW_PREFIX}{model}/{alias}/", ("%(refname)",)
        )
        return [r[0].removeprefix(f"refs/remotes/{remote}/") for r in rows if r]

    def is_protected(self, alias: str) -> bool:
        return alias in self.config.protected_aliases

    def governed_commit(self, at: datetime | None = None) -> str | None:
        if at is None:
            return self.git.rev_parse(ALIASES_REF)
        return self.git.commit_before(ALIASES_REF, int(at.timestamp()))

    def standing(
        self,
        model: str,
        alias: str,
        events: list[alias_tags.AliasEvent],
        *,
        at: datetime | None = None,
        policy: dict[str, Any] | object | None = ...,
        governed: str | object | None = ...,
    ) -> Standing:
        """Where the alias stands: its newest tag (at `at`) and, for a protected alias, whether the
        governed branch backs it (SPEC §3a.3). Callers that judge many aliases pass `policy`/`governed`."""
        from mreg.backing import Standing, assess

        cur = alias_tags.current(events, alias, at=to_unix(at))
        if not self.is_protected(alias):
            return Standing("backed" if cur is not None else "unset", cur, None)
        gov = self.governed_commit(at) if governed is ... else governed
        assert gov is None or isinstance(gov, str)
        if policy is ...:
            from mreg.policy import read_policy

            policy = read_policy(self.git, gov, model) if gov else None
        assert policy is None or isinstance(policy, dict)
        return assess(
            self.git, gov, model, alias, cur, policy=policy, signers=self.config.signers, events=events
        )

    def tag_problem(self, event: alias_tags.AliasEvent) -> str | None:
        """Why a tag must not be followed whatever its alias (SPEC §3a.3): its commit is not in the
        verified registry history, or the manifest there is not the one at the verified tip."""
        return self.tag_problems([event])[event.tag]

    def tag_problems(
        self, events: Sequence[alias_tags.AliasEvent], *, at_tip: Mapping[str, str] | None = None
    ) -> dict[str, str | None]:
        """`tag_problem` of many tags (by tag name) in three git calls whatever their number.
        `at_tip`: the blob id of every manifest at the verified tip, when the caller has them."""
        moves = [e for e in events if e.version is not None]
        out: dict[str, str | None] = {e.tag: None for e in events}
        if not moves:
            return out
        tip = self.registry_commit()
        in_history = self.git.ancestors_among({e.commit for e in moves}, tip)
        paths = [manifest_path(e.model, e.version or 0) for e in moves]
        theirs = self._blobs_at_commits(moves)
        if at_tip is None:
            ours = self.git.object_ids([f"{tip}:{path}" for path in paths])
        else:
            ours = [at_tip.get(path) for path in paths]
        for e, there, here in zip(moves, theirs, ours, strict=True):
            if e.commit not in in_history:
                out[e.tag] = (
                    f"tag {e.tag} (by {e.tagger}) points at {e.commit[:12]}, which is not in the "
                    f"verified history of {REGISTRY_BRANCH}"
                )
            elif there is None:
                out[e.tag] = f"tag {e.tag} names {e.model}@v{e.version}, which its commit does not hold"
            elif there != here:
                out[e.tag] = (
                    f"tag {e.tag} points at a manifest of {e.model}@v{e.version} that is not the registered one"
                )
        return out

    def _blobs_at_commits(self, moves: list[alias_tags.AliasEvent]) -> list[str | None]:
        """The manifest blob each tag's commit holds for its version (None: it has none): remembered
        per clone (cache/at_commit.py), asked of git in one batch for the rest."""
        from mreg.cache import clone_cache_dir
        from mreg.cache.at_commit import BlobsAtCommit

        root = clone_cache_dir(self.git.common_dir) / "at-commit"
        known: dict[tuple[str, str, int], str | None] = {}
        for model in sorted({e.model for e in moves}):
            known.update(((model, c, v), b) for (c, v), b in BlobsAtCommit(root, model).load().items())
        wanted = sorted({(e.model, e.commit, e.version or 0) for e in moves})
        missing = [k for k in wanted if k not in known]
        ids = self.git.object_ids([f"{c}:{manifest_path(m, v)}" for m, c, v in missing])
        found: dict[str, dict[tuple[str, int], str | None]] = {}
        for (m, c, v), blob in zip(missing, ids, strict=True):
            known[(m, c, v)] = blob
            found.setdefault(m, {})[(c, v)] = blob
        for model, new in found.items():
            BlobsAtCommit(root, model).add(new)
        return [known[(e.model, e.commit, e.version or 0)] for e in moves]

    def raise_unknown_model(self, model: str, commit: str, *, at: datetime | None = None) -> None:
        if not self.versions(model, commit):
            when = f" at {at.isoformat()}" if at else ""
            raise NotFoundError(
                f"no model named {model!r} in the registry{when}", hint="'mreg list' shows the models"
            )

    def aliases_of(self, model: str, version: int, at: datetime | None = None) -> tuple[str, ...]:
        return tuple(sorted(a for a, v in self.alias_values(model, at).items() if v == version))

    def alias_values(self, model: str, at: datetime | None = None) -> dict[str, int]:
        """Each alias of the model and the version a reader follows (unbacked and removed ones left out)."""
        events = self.alias_events(model)
        out = {}
        for alias in sorted({e.alias for e in events}):
            st = self.standing(model, alias, events, at=at)
            if st.state in ("backed", "pending") and st.event is not None and st.event.version is not None:
                out[alias] = st.event.version
        return out

    def package_lock(self, digest: str) -> str:
        """A captured package lock, read only when it is the size a lock can be: a manifest naming a
        300 MB object as its lock must not make `diff` or a promotion's PR body read it."""
        size = self.store.size(digest)
        if size is None:
            raise NotFoundError(f"package lock {digest} is not in store {self.store.url}")
        if size > MAX_LOCK_BYTES:
            raise NotFoundError(
                f"package lock {digest} is {size:,} bytes, more than a lock can be ({MAX_LOCK_BYTES:,}): not compared"
            )
        return self.store.read_verified(digest).decode("utf-8", "replace")

    def registration_commit(self, model: str, version: int) -> str:
        """The commit that added the version's manifest (SPEC §3a.2): in an append-only history, the
        last commit that touched its path. Alias tags point here, never at a later tip."""
        tip = self.registry_commit()
        path = manifest_path(model, version)
        out = self.git.last_commit_touching(tip, path)
        if not out:
            raise NotFoundError(f"model {model!r} has no version v{version}")
        return out

    def require_manifest_exists(self, model: str, version: int, commit: str) -> None:
        if self.git.object_ids([f"{commit}:{manifest_path(model, version)}"])[0] is None:
            raise NotFoundError(f"model {model!r} has no version v{version}")


def _last_backed(events: list[alias_tags.AliasEvent], standing: Standing) -> str:
    pin = standing.pin
    if pin is None:
        return ""
    for e in sorted(events, key=lambda e: e.seq, reverse=True):
        if e is not standing.event and pin.matches(e):
            return (
                f" (last backed: {e.tag}, v{e.version})"
                if e.version is not None
                else f" (last backed: {e.tag}, removed)"
            )
    return f" (approved: {pin.describe()})"


def parse_capped(blob: bytes, *, where: str, memo: bool = True) -> Manifest:
    """A manifest's bytes, bounded, parsed and checked; `memo`: through the machine's validation
    memo (`cache.valid`), off for a reader that keeps its own (`report`'s document index)."""
    return parse_manifest(blob, where=where, memo=MEMO if memo else None)


__all__ = ["Config", "Context"]
