"""`mreg init`: both orphan branches, created once; a second run changes nothing (SPEC §3, §8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mreg.errors import UsageError
from mreg.git.branches import Change
from mreg.layout import ALIASES_BRANCH, APPLY_WORKFLOW_PATH, CONFIG_PATH, REGISTRY_BRANCH, REGISTRY_REF
from mreg.manifest import REGISTRY_SCHEMA, dump_yaml, schema_errors
from mreg.store import checked_store_url

if TYPE_CHECKING:
    from mreg.context import Context

REGISTRY_README = b"""# mreg registry branch

Written by mreg with git plumbing; never edit by hand. One immutable manifest per version:
`models/<model>/versions/<n>.yaml`. Aliases are the annotated tags `mreg/<model>/<alias>/<seq>`.
"""


def _refuse_a_store_without_the_versions(ctx: Context, store: str) -> None:
    """Switching stores must not strand the versions registered so far: every clone's pull would fail."""
    from pathlib import Path

    from mreg.ops.maintain import referenced_objects
    from mreg.store import open_store

    if ctx.git.rev_parse(REGISTRY_REF) is None:
        return
    target = open_store(store, default_dir=Path("/nonexistent"), env=False)
    missing = [d for d in sorted(referenced_objects(ctx)) if not target.exists(d)]
    if missing:
        raise UsageError(
            f"--store {store}: {len(missing)} object(s) the registered versions need are not there "
            f"(first: {missing[0]}); recording it would break every pull",
            hint=f"copy them first: mreg store copy --to {store}",
        )


def init_registry(ctx: Context, *, store: str | None, remote: str | None, github: bool) -> list[str]:
    """Returns what it created; an empty list means everything was already there."""
    if remote is not None:
        ctx.remote_override = remote
        if ctx.git.remote_url(remote) is None:
            raise UsageError(
                f"git has no remote named {remote!r}", hint=f"add it with: git remote add {remote} URL"
            )
    if store is not None:
        store = checked_store_url(store, flag="--store")
    created: list[str] = []
    branches = ctx.branches
    branches.fetch()

    def build_registry(base: str | None) -> Change:
        return Change({"README.md": REGISTRY_README}, "init mreg registry")

    if branches.tip(REGISTRY_BRANCH) is None:
        branches.commit(REGISTRY_BRANCH, build_registry, allow_create=True)
        created.append(REGISTRY_BRANCH)
    else:
        branches.ensure_pushed(REGISTRY_BRANCH)

    def build_aliases(base: str | None) -> Change:
        files: dict[str, bytes | None] = {}
        config: dict[str, Any] = {"schema": REGISTRY_SCHEMA}
        if base is not None:
            existing = ctx.read_config_blob(base)
            if existing is not None:
                config = existing
        changed_config = base is None
        if store is not None and config.get("store") != store:
            config["store"] = store
            _refuse_a_store_without_the_versions(ctx, store)
            changed_config = True
        if remote is not None and config.get("remote", "origin") != remote:
            config["remote"] = remote
            changed_config = True
        if changed_config:
            config.setdefault("protected_aliases", ["production"])
            errors = schema_errors(config, REGISTRY_SCHEMA)
            if errors:
                raise UsageError(f"{CONFIG_PATH}: {errors[0]}")
            files[CONFIG_PATH] = dump_yaml(config).encode()
        if github and (base is None or ctx.git.read_blob(f"{base}:{APPLY_WORKFLOW_PATH}") is None):
            from mreg.integrations.workflow import apply_workflow

            files[APPLY_WORKFLOW_PATH] = apply_workflow().encode()
        return Change(files, "init mreg aliases" if base is None else "configure mreg")

    tip = branches.tip(ALIASES_BRANCH)
    change = build_aliases(tip)
    if change.files:
        branches.commit(ALIASES_BRANCH, build_aliases, allow_create=True)
        created.append(
            ALIASES_BRANCH if tip is None else f"updated {ALIASES_BRANCH} ({', '.join(sorted(change.files))})"
        )
    else:
        branches.ensure_pushed(ALIASES_BRANCH)
    return created
