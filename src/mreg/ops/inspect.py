"""Read-only views: list, diff, log (SPEC §8). They return data; the CLI renders it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mreg.git import tags as alias_tags
from mreg.git.history import registrations
from mreg.layout import lifecycle_of_path, record_of_path, versions_dir
from mreg.ops import lifecycle
from mreg.results import Diff, LogEntry, ModelSummary

if TYPE_CHECKING:
    from datetime import datetime

    from mreg.backing import Standing
    from mreg.context import Context
    from mreg.manifest import Manifest
    from mreg.results import Evaluation, Version


def list_models(ctx: Context, at: datetime | None) -> list[ModelSummary]:
    """One `ls-tree -r` for every version, one `for-each-ref` for every alias tag's name, and the
    newest tag of each alias: at 100,000 tags `list` reads 3,000 of them (issue 14)."""
    from mreg.context import to_unix

    commit = ctx.registry_commit(at)
    versions: dict[str, list[int]] = {}
    manifests = ctx.git.blob_ids(commit, "models")
    for path in manifests:
        record = record_of_path(path)
        if record is not None:
            versions.setdefault(record[0], []).append(record[1])
    events_by_model: dict[str, list[alias_tags.AliasEvent]] = {}
    # `--at` asks for the newest tag as of then, which may be any of them
    for e in alias_tags.read_current(ctx.git) if at is None else _all_events(ctx):
        events_by_model.setdefault(e.model, []).append(e)
    governed = ctx.governed_commit(at)
    policies = (
        _policies(ctx, governed)
        if any(ctx.is_protected(e.alias) for es in events_by_model.values() for e in es)
        else {}
    )
    standings: dict[str, dict[str, Standing]] = {}
    for model in sorted(versions):
        events = events_by_model.get(model, [])
        for alias in sorted(alias_tags.current_all(events, at=to_unix(at))):
            st = ctx.standing(model, alias, events, at=at, policy=policies.get(model), governed=governed)
            if st.state != "backed" and ctx.is_protected(alias) and at is None:
                # not the pin: whether it is a merged change not applied yet depends on older tags
                every = alias_tags.read_events(ctx.git, model, alias)
                st = ctx.standing(model, alias, every, policy=policies.get(model), governed=governed)
            if st.event is not None and st.event.version is not None:
                standings.setdefault(model, {})[alias] = st
    problems = ctx.tag_problems(
        [st.event for by in standings.values() for st in by.values() if st.event],
        at_tip=manifests if at is None else None,  # the verified tip's manifests: listed above
    )
    with_records = {p.split("/", 2)[1] for p in manifests if lifecycle_of_path(p) is not None}
    rows = []
    for model in sorted(versions):
        numbers = sorted(versions[model])
        states = lifecycle.read(ctx, model, commit=commit) if model in with_records else {}
        aliases, unreviewed = {}, {}
        for alias, st in standings.get(model, {}).items():
            if st.event is None or st.event.version is None:
                continue
            if st.state == "unbacked" or problems[st.event.tag] is not None:
                unreviewed[alias] = st.event.tag  # never shown as a value: readers refuse it
            else:
                aliases[alias] = st.event.version
        rows.append(
            ModelSummary(
                model,
                numbers[-1],
                len(numbers),
                aliases,
                unreviewed,
                archived=tuple(n for n, st in sorted(states.items()) if st.archived),
                purged=tuple(n for n, st in sorted(states.items()) if st.purge is not None),
            )
        )
    return rows


def _policies(ctx: Context, governed: str | None) -> dict[str, dict[str, Any]]:
    from mreg.errors import MregError
    from mreg.policy import read_policies

    if governed is None:
        return {}
    try:
        return read_policies(ctx.git, governed)
    except MregError:
        return {}  # a broken policy backs nothing; `check` names it


def _policy(ctx: Context, governed: str | None, model: str) -> dict[str, Any] | None:
    from mreg.errors import MregError
    from mreg.policy import read_policy

    if governed is None:
        return None
    try:
        return read_policy(ctx.git, governed, model)
    except MregError:
        return None  # a broken policy backs nothing; `check` names it


def _all_events(ctx: Context) -> list[alias_tags.AliasEvent]:
    return alias_tags.read_events(ctx.git, None)


def _delta(a: Any, b: Any) -> Any:
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return b - a
    return None


def _mapping_diff(
    a: dict[str, Any], b: dict[str, Any], *, deltas: bool = False, all_keys: bool = False
) -> list[dict[str, Any]]:
    out = []
    for key in sorted(set(a) | set(b)):
        if all_keys or a.get(key) != b.get(key) or (key in a) != (key in b):
            row = {"key": key, "old": a.get(key), "new": b.get(key)}
            if deltas:
                row["delta"] = _delta(a.get(key), b.get(key))
            out.append(row)
    return out


def diff(ctx: Context, a: str, b: str, *, at: datetime | None = None) -> Diff:
    """Two versions side by side; the package locks are compared when the store has them."""
    from mreg.errors import NotFoundError, RemoteError

    va, vb = ctx.resolve(a, at), ctx.resolve(b, at)
    d = diff_versions(va, vb)
    packages: list[dict[str, Any]] = []
    unavailable = None
    pa, pb = va.manifest["environment"]["packages"], vb.manifest["environment"]["packages"]
    if pa != pb:
        try:
            packages = package_changes(ctx.package_lock(pa), ctx.package_lock(pb))
        except (NotFoundError, RemoteError) as exc:  # not here (a private store) or unreachable: say so;
            unavailable = exc.message  # corrupt bytes (IntegrityError) are exit 5
    from mreg.ops import evaluate

    found = evaluate.read(ctx, [va, vb], at=at)
    return Diff(
        evaluations=tuple(evaluation_rows(found[(va.model, va.version)], found[(vb.model, vb.version)])),
        a=d["a"],
        b=d["b"],
        same_artifacts=d["same_artifacts"],
        params=tuple(d["params"]),
        metrics=tuple(d["metrics"]),
        data=tuple(d["data"]),
        environment=tuple(d["environment"]),
        packages=tuple(packages),
        packages_digest=d["packages_digest"],
        artifacts=tuple(d["artifacts"]),
        packages_unavailable=unavailable,
    )


def evaluation_rows(a: Sequence[Evaluation], b: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """Per dataset name: the newest results of both versions on the same data, metric by metric with
    deltas; where they were not evaluated on the same data, each side's newest result and why."""
    names = sorted({str(e.dataset.get("name")) for e in (*a, *b)})
    rows = []
    for name in names:
        ours = [e for e in a if e.dataset.get("name") == name]
        theirs = [e for e in b if e.dataset.get("name") == name]
        shared = {e.dataset_identity for e in ours if e.dataset_identity} & {
            e.dataset_identity for e in theirs if e.dataset_identity
        }
        if shared:
            x = [e for e in ours if e.dataset_identity in shared][-1]
            y = [e for e in theirs if e.dataset_identity == x.dataset_identity][-1]
            rows.append(
                {
                    "dataset": name,
                    "identity": x.dataset_identity,
                    "comparable": True,
                    "metrics": _mapping_diff(dict(x.metrics), dict(y.metrics), deltas=True, all_keys=True),
                    "note": None,
                }
            )
            continue
        x_last = ours[-1] if ours else None
        y_last = theirs[-1] if theirs else None
        note = (
            "only the first version was evaluated on it"
            if not theirs
            else "only the second version was evaluated on it"
            if not ours
            else "not evaluated on the same data (different digests): not compared"
        )
        rows.append(
            {
                "dataset": name,
                "identity": None,
                "comparable": False,
                "metrics": _mapping_diff(
                    dict(x_last.metrics) if x_last else {},
                    dict(y_last.metrics) if y_last else {},
                    all_keys=True,
                ),
                "note": note,
            }
        )
    return rows


def diff_versions(a: Version, b: Version) -> dict[str, Any]:
    ma, mb = a.manifest, b.manifest
    arts_a = {x["path"]: x for x in ma["artifacts"]}
    arts_b = {x["path"]: x for x in mb["artifacts"]}
    artifacts = []
    for path in sorted(set(arts_a) | set(arts_b)):
        x, y = arts_a.get(path), arts_b.get(path)
        if x is None:
            artifacts.append({"path": path, "change": "added", "new": y["digest"] if y else None})
        elif y is None:
            artifacts.append({"path": path, "change": "removed", "old": x["digest"]})
        elif x["digest"] != y["digest"]:
            artifacts.append({"path": path, "change": "changed", "old": x["digest"], "new": y["digest"]})
    data_a = {d["name"]: d for d in ma.get("data") or []}
    data_b = {d["name"]: d for d in mb.get("data") or []}
    env_a, env_b = ma["environment"], mb["environment"]
    env = _mapping_diff(
        {k: v for k, v in env_a.items() if k != "packages"},
        {k: v for k, v in env_b.items() if k != "packages"},
    )
    return {
        "a": a.ref,
        "b": b.ref,
        "same_artifacts": ma["digest"] == mb["digest"],
        "params": _mapping_diff(_flatten(ma.get("params") or {}), _flatten(mb.get("params") or {})),
        "metrics": _mapping_diff(ma.get("metrics") or {}, mb.get("metrics") or {}, deltas=True),
        "data": _mapping_diff(data_a, data_b),
        "environment": env,
        "packages": [],
        "packages_digest": {"old": env_a["packages"], "new": env_b["packages"]},
        "artifacts": artifacts,
    }


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def package_changes(lock_a: str, lock_b: str) -> list[dict[str, Any]]:
    def parse(text: str) -> dict[str, str]:
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, sep, ver = line.partition("==")
            if not sep:
                name, _, ver = line.partition(" @ ")
            out[name.strip()] = ver.split("  #")[0].strip()
        return out

    pa, pb = parse(lock_a), parse(lock_b)
    rows = []
    for name in sorted(set(pa) | set(pb)):
        if pa.get(name) != pb.get(name):
            change = "added" if name not in pa else "removed" if name not in pb else "changed"
            rows.append({"package": name, "change": change, "old": pa.get(name), "new": pb.get(name)})
    return rows


def history(ctx: Context, model: str, *, alias: str | None) -> list[LogEntry]:
    """Registrations (the commits that added each manifest, never a commit's subject) and alias
    events, merged into one timeline; a protected alias's tag that no reviewed pin backs is marked."""
    ctx.require_initialised()
    tip = ctx.registry_commit()
    entries: list[dict[str, Any]] = []
    if alias is None:
        registered = registrations(ctx.git, tip, versions_dir(model))
        manifests = manifests_quietly(ctx, model, [n for _, _, _, n in registered], tip)
        for sha, stamp, who, number in registered:
            m: Mapping[str, Any] = manifests.get(number) or {}
            entries.append(
                {
                    "event": "register",
                    "model": model,
                    "alias": None,
                    "seq": None,
                    "version": number,
                    "digest": m.get("digest"),
                    "previous": None,
                    "reason": m.get("message"),
                    "request": None,
                    "by": who,
                    "at": _iso(stamp),
                    "tag": None,
                    "governed": None,
                    "commit": sha,
                    "signature": None,
                    "reviewed": None,
                    "_order": (float(stamp), 0, number),
                }
            )
        entries += _lifecycle_entries(ctx, model, tip)
    events = alias_tags.read_events(ctx.git, model, alias)
    if not entries and not events and not ctx.versions(model, tip):
        from mreg.errors import NotFoundError

        raise NotFoundError(f"no model named {model!r} in the registry")
    governed = ctx.governed_commit()
    marks = reviewed_marks(
        ctx,
        model,
        events,
        governed=governed,
        policy=_policy(ctx, governed, model),
        problems=ctx.tag_problems(events),
    )
    for e in events:
        d = e.as_dict()
        d["commit"] = e.commit
        d["signature"] = _signature_status(ctx, e)
        d["reviewed"] = marks[e.tag]
        d["_order"] = (e.order_time, 1, e.seq)
        if e.imported_from is not None:  # SPEC §14: the move as it happened there, not the import
            d["imported_from"] = e.imported_from
            d["by"] = e.original_by or d["by"]
            if e.recorded_at is not None:
                d["at"] = _iso(int(e.recorded_at))
        entries.append(d)
    entries.sort(key=lambda d: d["_order"])
    _keep_each_alias_in_seq_order(entries)
    for d in entries:
        d.pop("_order")
    return [LogEntry(**d) for d in entries]


def _lifecycle_entries(ctx: Context, model: str, tip: str) -> list[dict[str, Any]]:
    """Archive, unarchive and purge records as log entries; `by` is the claimed git author of the
    commit that added each, with the record's own `created_by` beside it when the two disagree
    (neither is verified: see `lifecycle.claimed_by`)."""
    from datetime import datetime, timezone

    out = []
    for version, st in lifecycle.read(ctx, model, commit=tip).items():
        for e in st.events:
            try:
                stamp = datetime.strptime(e.at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                stamp = 0.0
            reason = e.reason
            if e.bytes_freed is not None:
                reason = f"{reason} ({e.objects} object(s), {e.bytes_freed} bytes freed)"
            out.append(
                {
                    "event": e.event,
                    "model": model,
                    "alias": None,
                    "seq": None,
                    "version": version,
                    "digest": None,
                    "previous": None,
                    "reason": reason,
                    "request": None,
                    "by": lifecycle.claimed_by(e),
                    "at": e.at,
                    "tag": None,
                    "governed": None,
                    "commit": e.commit or "",
                    "signature": None,
                    "reviewed": None,
                    "_order": (stamp + 0.5, 0, version),
                }
            )
    return out


def reviewed_marks(
    ctx: Context,
    model: str,
    events: Sequence[alias_tags.AliasEvent],
    *,
    governed: str | None,
    policy: dict[str, Any] | None,
    problems: Mapping[str, str | None],
) -> dict[str, bool]:
    """Tag name -> whether a reader may take the tag's word (`log`'s and `report`'s `reviewed`), as
    `reviewed_flags` judges each alias's tags. `events`: every tag of each alias of `model`."""
    by_alias: dict[str, list[alias_tags.AliasEvent]] = {}
    for e in events:
        by_alias.setdefault(e.alias, []).append(e)
    out: dict[str, bool] = {}
    for alias, evs in by_alias.items():
        out.update(reviewed_flags(ctx, model, alias, evs, governed, policy=policy, problems=problems))
    return out


def reviewed_flags(
    ctx: Context,
    model: str,
    alias: str,
    events: Sequence[alias_tags.AliasEvent],
    governed: str | None,
    *,
    policy: dict[str, Any] | object | None = ...,  # the model's policy at `governed`; ...: read it
    problems: Mapping[str, str | None] | None = None,
) -> dict[str, bool]:
    """Whether each tag of the alias applied what reviewers approved, in seq order. For a protected
    alias a tag must name the governed commit it applies (`governed`), match that commit's pin, and
    apply an approval newer than the one an earlier reviewed tag applied: a copy of an approval
    already applied (a forged "rollback" to a version once approved, or a second tag for the value
    the pin names, with a reason of the tagger's own) is a replay, not a review. The newest tag must
    moreover be what readers follow (backed, or approved and pending). One judge for every history
    view: `log`, `report` and the events `notify` sends."""
    from mreg.backing import is_ancestor_cached, pins_at, policy_revisions, signature_ok
    from mreg.layout import policy_path

    if problems is None:
        problems = ctx.tag_problems(list(events))
    if not ctx.is_protected(alias):
        return {e.tag: problems.get(e.tag) is None for e in events}
    if governed is None:
        return dict.fromkeys((e.tag for e in events), False)
    path = policy_path(model)
    order = list(reversed(policy_revisions(ctx.git, governed, path)))  # oldest first
    index = {sha: i for i, sha in enumerate(order)}
    pins = pins_at(ctx.git, order, path)
    out: dict[str, bool] = {}
    highest = -1
    for e in sorted(events, key=lambda x: x.seq):
        ok = problems.get(e.tag) is None and e.governed is not None
        if ok and ctx.config.signers:
            ok = signature_ok(ctx.git, e, ctx.config.signers)
        at = index.get(e.governed or "")
        if ok and at is None and e.governed is not None:  # a later commit of the branch: the pin then
            at = next(
                (
                    i
                    for i in range(len(order) - 1, -1, -1)
                    if is_ancestor_cached(ctx.git, order[i], e.governed)
                ),
                None,
            )
        pin = pins[at].get(alias) if ok and at is not None else None
        ok = ok and at is not None and pin is not None and pin.matches(e) and at > highest
        if ok and at is not None:
            highest = at
        out[e.tag] = ok
    if events:
        newest = max(events, key=lambda x: x.seq)
        st = ctx.standing(model, alias, list(events), policy=policy, governed=governed)
        if st.state not in ("backed", "pending") or st.event is None or st.event.tag != newest.tag:
            out[newest.tag] = False
    return out


def manifests_quietly(ctx: Context, model: str, versions: list[int], tip: str) -> dict[int, Manifest]:
    """Manifests for `log`'s messages and digests, in one batch; one that does not parse shows without them."""
    from mreg.context import parse_capped
    from mreg.errors import MregError
    from mreg.layout import manifest_path

    out: dict[int, Manifest] = {}
    blobs = ctx.git.read_blobs([f"{tip}:{manifest_path(model, v)}" for v in versions])
    for v, blob in zip(versions, blobs, strict=True):
        if blob is None:
            continue
        try:
            out[v] = parse_capped(blob, where=manifest_path(model, v))
        except MregError:
            continue
    return out


def _keep_each_alias_in_seq_order(entries: list[dict[str, Any]]) -> None:
    """Time orders events across aliases (the record's `at`, microseconds); within one alias the seq
    decides, whatever a teammate's clock said, and registrations keep their version order."""
    groups: dict[object, list[int]] = {}
    for i, d in enumerate(entries):
        groups.setdefault(d["alias"] if d["event"] != "register" else None, []).append(i)
    for alias, positions in groups.items():
        key = "version" if alias is None else "seq"
        ordered = sorted((entries[i] for i in positions), key=lambda d: d[key] or 0)
        for i, d in zip(positions, ordered, strict=True):
            entries[i] = d


def _signature_status(ctx: Context, event: alias_tags.AliasEvent) -> str:
    """'none' for an unsigned tag; else whether it verifies: against `signers` in mreg.yaml when the
    registry lists them (SPEC §3a.4), otherwise with git's own configured verifier."""
    if not event.signed:
        return "none"
    if ctx.config.signers:
        from mreg.backing import signature_ok

        return "good" if signature_ok(ctx.git, event, ctx.config.signers) else "bad"
    return "good" if ctx.git.verify_tag(event.tag) else "bad"


def _iso(stamp: int) -> str:
    return alias_tags.from_unix(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")
