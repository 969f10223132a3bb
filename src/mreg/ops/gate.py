"""`mreg gate` (SPEC §9): a model's gate for an alias, evaluated on a candidate version.

Rules come from the governed branch. For a pull request (`--changed`) they come from its *base*,
so a PR cannot loosen a gate and pass it in the same change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mreg import gates
from mreg.errors import IntegrityError, MregError, NotFoundError, UsageError
from mreg.layout import ALIASES_BRANCH, ALIASES_REF, manifest_path
from mreg.ops import evaluate
from mreg.policy import desired_aliases, read_policies, read_policy
from mreg.refs import check_alias, parse_ref
from mreg.resolved import Version
from mreg.results import GateReport

if TYPE_CHECKING:
    from datetime import datetime

    from mreg.context import Context
    from mreg.results import Evaluation


def governed_rev(ctx: Context) -> str:
    ctx.require_initialised()
    tip = ctx.git.rev_parse(ALIASES_REF)
    if tip is None:
        raise NotFoundError(f"this registry has no {ALIASES_BRANCH} branch", hint="run 'mreg init'")
    return tip


def evaluate_candidate(
    ctx: Context, candidate: Version, alias: str, rules: list[dict[str, Any]], at: datetime | None = None
) -> GateReport:
    """Figures of the candidate against the rules; baselines are what the tags say now.

    A version the alias held before is a rollback (SPEC §7): every rule applies but `not_worse_than`,
    which compares a *new* candidate with the incumbent; an incident rollback must be able to merge.
    """
    held_before = any(e.version == candidate.version for e in ctx.alias_events(candidate.model, alias))
    if held_before:
        rules = [r for r in rules if "not_worse_than" not in r]
    values = ctx.alias_values(candidate.model, at)  # what readers follow: never an unreviewed tag
    tip = ctx.registry_commit()
    incumbents: dict[str, Version] = {}
    for name in gates.baseline_aliases(rules):
        version = values.get(name)
        if version is not None:
            incumbents[name] = Version(
                candidate.model, version, ctx.load_manifest(candidate.model, version, tip), tip
            )
    wants_results = any("dataset" in r for r in rules)
    results = evaluate.read(ctx, [candidate, *incumbents.values()], at=at) if wants_results else {}
    baselines: dict[str, gates.Baseline] = {}
    for name in gates.baseline_aliases(rules):
        v = incumbents.get(name)
        if v is None:
            baselines[name] = gates.Baseline(name, None, {})
        else:
            baselines[name] = gates.Baseline(
                name,
                v.version,
                v.manifest.get("metrics") or {},
                _results(results.get((v.model, v.version), ())),
                _manifest_source(v),
            )
    judged = gates.Candidate(
        candidate.manifest,
        _results(results.get((candidate.model, candidate.version), ())),
        _manifest_source(candidate),
    )
    verdicts = gates.evaluate(rules, judged, baselines)
    standing = lifecycle_verdict(ctx, candidate)
    if standing is not None:
        verdicts = [standing, *verdicts]
    return GateReport(
        candidate.model, alias, candidate.version, values.get(alias), tuple(verdicts), len(rules)
    )


def lifecycle_verdict(ctx: Context, candidate: Version) -> gates.Verdict | None:
    """A failed check when the candidate is archived or its bytes were purged (issue 20): such a
    version is never promoted, whatever its figures."""
    from mreg.ops.lifecycle import describe
    from mreg.ops.lifecycle import read as lifecycle

    st = lifecycle(ctx, candidate.model).get(candidate.version)
    if st is None or st.state == "active":
        return None
    if not st.archived:
        from mreg.ops.retention import purge_problem

        if purge_problem(ctx, candidate.model, candidate.version) is None:
            return None  # the bytes are there, or the record is not one the policy explains
    ev = st.archive_event if st.archived else st.purge_event
    return gates.Verdict(
        "lifecycle",
        False,
        st.state,
        "active",
        note=f"{candidate.model}@v{candidate.version} is {st.state}",
        sources=(describe(ev),) if ev is not None else (),
    )


def _manifest_source(v: Version) -> str:
    m = v.manifest
    return f"{manifest_path(v.model, v.version)} by {m['created_by']} at {m['created_at']}"


def _results(found: tuple[Evaluation, ...]) -> tuple[gates.Result, ...]:
    return tuple(
        gates.Result(
            str(e.dataset.get("name")),
            e.dataset_identity,
            e.metrics,
            _record_source(e),
        )
        for e in found
    )


def _record_source(e: Evaluation) -> str:
    """Where a figure came from, with what a reviewer needs to judge it: the record, the data it was
    measured on (name, URI, identity), who says they recorded it, when, and the commit that added it."""
    identity = e.dataset_identity or "unidentified data"
    short = identity[:19] + "…" if identity.startswith("sha256:") else identity
    commit = f", commit {e.commit[:12]}" if e.commit else ""
    return f"{e.path} ({e.dataset.get('name')} = {e.dataset.get('uri')}, {short}) by {e.created_by} at {e.created_at}{commit}"


def gate_ref(ctx: Context, ref: str, alias: str, at: datetime | None = None) -> GateReport:
    """`mreg gate REF --to ALIAS`: the rules on the governed branch's tip (or as they stood at `at`)."""
    check_alias(alias)
    candidate = ctx.resolve(parse_ref(ref), at, with_aliases=False)
    governed = governed_rev(ctx) if at is None else ctx.governed_commit(at)
    policy = (read_policy(ctx.git, governed, candidate.model) if governed else None) or {}
    rules = list((policy.get("gates") or {}).get(alias) or [])
    return evaluate_candidate(ctx, candidate, alias, rules, at=at)


def gate_changed(ctx: Context, base: str, head: str) -> list[GateReport]:
    """Every alias change from `base` to `head` of the governed branch (a pull request's changes)."""
    ctx.require_initialised()
    base_sha = _commit(ctx, base, "--base")
    head_sha = _commit(ctx, head, "--head")
    fork = ctx.git.merge_base(base_sha, head_sha)
    if not fork:
        raise UsageError(f"{base} and {head} share no history: is {head} a commit of {ALIASES_BRANCH}?")
    before = desired_aliases(read_policies(ctx.git, fork))
    after = desired_aliases(read_policies(ctx.git, head_sha))
    base_policies = read_policies(ctx.git, base_sha)
    reports = []
    tip = ctx.registry_commit()
    for (model, alias), pin in sorted(after.items()):
        if (model, alias) in before and before[(model, alias)] == pin:
            continue
        rules = list(((base_policies.get(model) or {}).get("gates") or {}).get(alias) or [])
        version = pin.version
        if version is None:  # removing an alias has nothing to measure
            reports.append(GateReport(model, alias, None, ctx.alias_values(model).get(alias), (), len(rules)))
            continue
        if version not in ctx.versions(model, tip):
            raise NotFoundError(
                f"{ALIASES_BRANCH} asks for {model}@{alias} = v{version}, which is not registered"
            )
        candidate = ctx.resolve(parse_ref(f"{model}@v{version}"))
        if pin.digest is not None and pin.digest != candidate.digest:
            raise IntegrityError(
                f"{ALIASES_BRANCH} would pin {model}@{alias} to v{version} at digest {pin.digest}, "
                f"but the registered manifest has {candidate.digest}"
            )
        reports.append(evaluate_candidate(ctx, candidate, alias, rules))
    config = _config_change(ctx, fork, head_sha, moves=bool(reports))
    if config is not None:
        reports.append(config)
    return reports


def _config_change(ctx: Context, before: str, after: str, *, moves: bool) -> GateReport | None:
    """A pull request that loosens protection in mreg.yaml (an alias no longer protected, unreviewed
    or direct moves allowed, a signer dropped) is shown as such; together with an alias change it
    fails, so a promotion cannot ride in on the change that removes its own review."""
    from mreg.layout import CONFIG_PATH
    from mreg.manifest import load_yaml

    def read(rev: str) -> dict[str, Any]:
        blob = ctx.git.read_blob(f"{rev}:{CONFIG_PATH}")
        try:
            doc = load_yaml(blob, where=CONFIG_PATH) if blob is not None else {}
        except MregError:
            doc = None
        return doc if isinstance(doc, dict) else {"protected_aliases": []}

    old, new = read(before), read(after)
    loosened = []
    default = ["production"]
    dropped = set(old.get("protected_aliases", default) or []) - set(
        new.get("protected_aliases", default) or []
    )
    if dropped:
        loosened.append(f"no longer protects {', '.join(sorted(map(str, dropped)))}")
    for key in ("allow_unreviewed", "direct_rollback"):
        if not old.get(key) and new.get(key):
            loosened.append(f"turns on {key}")
    signers_gone = set(map(str, old.get("signers") or [])) - set(map(str, new.get("signers") or []))
    if signers_gone:
        loosened.append(f"drops {len(signers_gone)} signer(s)")
    if not loosened:
        return None
    note = (
        "split it: an alias change cannot ride in on the change that loosens its review"
        if moves
        else "reviewers: this loosens protection"
    )
    verdict = gates.Verdict(f"{CONFIG_PATH} protection", not moves, "; ".join(loosened), "unchanged", note)
    return GateReport("", "", None, None, (verdict,), 1, label=f"{CONFIG_PATH}: loosens protection")


def _commit(ctx: Context, rev: str, flag: str) -> str:
    sha = ctx.git.rev_parse(f"{rev}^{{commit}}")
    if sha is None:
        raise UsageError(
            f"{flag} {rev!r}: no such commit in this repository",
            hint="fetch it first, e.g. git fetch origin mreg/aliases",
        )
    return sha
