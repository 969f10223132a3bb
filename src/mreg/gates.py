"""Gate rules (SPEC §9) → verdicts. Pure data in, data out: rules are never code to eval.

```yaml
gates:
  production:
    - {metric: auc, min: 0.90}
    - {metric: latency_ms, max: 50}
    - {metric: auc, not_worse_than: production, tolerance: 0.005}        # higher is better
    - {metric: latency_ms, not_worse_than: production, direction: lower}
    - {metric: auc, min: 0.9, dataset: holdout-2026-11}                   # an evaluation's result
    - {metric: auc, not_worse_than: production, dataset: holdout-2026-11}  # same data digest only
    - {require: [environment.lockfile, data]}
```

A rule without `dataset` reads the figure the manifest recorded at registration; with `dataset`, the
figure of the newest evaluation record (SPEC §11) on a dataset of that name, and `not_worse_than`
compares it only with the incumbent's result on the very same data (its digest, or the etag/version
its store reported): a result on other bytes is no baseline. Every verdict cites where each figure
came from (`Verdict.sources`), so `gate --explain` and the promotion's pull request can show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mreg.text import md

_MISSING = object()


@dataclass(frozen=True)
class Verdict:
    """One check of one rule: what was asked, what was found, and whether it passed."""

    rule: str
    ok: bool
    actual: str
    expected: str
    note: str = ""
    sources: tuple[str, ...] = ()  # where each figure came from: a manifest, an evaluation record

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "ok": self.ok,
            "actual": self.actual,
            "expected": self.expected,
            "note": self.note,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class Result:
    """One evaluation record's figures, as a gate reads them: on which data, and who recorded it where."""

    dataset: str  # the dataset's name
    identity: str | None  # its digest (or store etag/version); None: nothing identifies the data
    metrics: Mapping[str, Any]
    source: str  # `models/<m>/evaluations/<v>/<n>.yaml by WHO at WHEN`


@dataclass(frozen=True)
class Baseline:
    """The version an alias currently names (for not_worse_than); `version` None = alias unset."""

    alias: str
    version: int | None
    metrics: Mapping[str, Any]
    results: tuple[Result, ...] = ()  # its evaluation records, oldest first
    source: str = ""  # its manifest


@dataclass(frozen=True)
class Candidate:
    """What a gate judges: the manifest's figures and evaluation records, and where each came from."""

    manifest: Mapping[str, Any]
    results: tuple[Result, ...] = ()  # oldest first
    source: str = ""  # the manifest's path


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "-" if v is None else str(v)


def lookup(document: Mapping[str, Any], dotted: str) -> Any:
    """`environment.lockfile` → manifest['environment']['lockfile']; _MISSING when any step is absent."""
    node: Any = document
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def _present(value: Any) -> bool:
    return value is not _MISSING and value is not None and value != [] and value != {} and value != ""


def evaluate(
    rules: Sequence[Mapping[str, Any]],
    candidate: Candidate | Mapping[str, Any],
    baselines: Mapping[str, Baseline],
) -> list[Verdict]:
    """Every check of every rule against the candidate; a missing figure fails its check."""
    if not isinstance(candidate, Candidate):
        candidate = Candidate(candidate)
    manifest = candidate.manifest
    out: list[Verdict] = []
    for rule in rules:
        if "require" in rule:
            for field in rule["require"]:
                value = lookup(manifest, field)
                ok = _present(value)
                out.append(
                    Verdict(
                        f"require {field}",
                        ok,
                        "present" if ok else "missing",
                        "present",
                        sources=_cite(candidate.source),
                    )
                )
            continue
        if "dataset" in rule:
            out.extend(_on_dataset(rule, candidate, baselines))
            continue
        name = str(rule["metric"])
        metrics = manifest.get("metrics") or {}
        raw = metrics.get(name)
        value = _num(raw)
        shown = _fmt(raw) if name in metrics else "missing"
        cited = _cite(candidate.source)
        if "min" in rule:
            ok = value is not None and value >= float(rule["min"])
            out.append(Verdict(f"{name} min", ok, shown, f">= {_fmt(rule['min'])}", sources=cited))
        if "max" in rule:
            ok = value is not None and value <= float(rule["max"])
            out.append(Verdict(f"{name} max", ok, shown, f"<= {_fmt(rule['max'])}", sources=cited))
        if "not_worse_than" in rule:
            out.append(_not_worse(name, value, shown, rule, baselines, cited))
    return out


def _cite(*sources: str) -> tuple[str, ...]:
    return tuple(s for s in sources if s)


def _on_dataset(
    rule: Mapping[str, Any], candidate: Candidate, baselines: Mapping[str, Baseline]
) -> list[Verdict]:
    """The rule's checks on the candidate's newest result on the named dataset (see the module doc)."""
    name, dataset = str(rule["metric"]), str(rule["dataset"])
    on = f" on {dataset}"
    mine = [r for r in candidate.results if r.dataset == dataset and name in r.metrics]
    checks = [k for k in ("min", "max", "not_worse_than") if k in rule]
    if not mine:
        note = f"no evaluation of the candidate on {dataset} has {name}: record one with 'mreg eval add REF --dataset {dataset}=URI'"
        wanted = {
            "min": f">= {_fmt(rule.get('min'))}",
            "max": f"<= {_fmt(rule.get('max'))}",
            "not_worse_than": "-",
        }
        return [
            Verdict(f"{name} {k.replace('_', ' ')}{on}", False, "missing", wanted[k], note) for k in checks
        ]
    newest = mine[-1]
    out = []
    for key in ("min", "max"):
        if key in rule:
            value = _num(newest.metrics.get(name))
            ok = value is not None and (
                value >= float(rule[key]) if key == "min" else value <= float(rule[key])
            )
            sign = ">=" if key == "min" else "<="
            out.append(
                Verdict(
                    f"{name} {key}{on}",
                    ok,
                    _fmt(newest.metrics.get(name)),
                    f"{sign} {_fmt(rule[key])}",
                    sources=(newest.source,),
                )
            )
    if "not_worse_than" in rule:
        out.append(_not_worse_on(name, dataset, mine, rule, baselines))
    return out


def _not_worse_on(
    name: str, dataset: str, mine: list[Result], rule: Mapping[str, Any], baselines: Mapping[str, Baseline]
) -> Verdict:
    """The candidate's newest result on the dataset against the incumbent's result on the very same
    data (the newest, if it has several). An older candidate result is never the one compared: the
    candidate cannot pick the data it is judged on by evaluating the incumbent on some data only."""
    alias = str(rule["not_worse_than"])
    tol = float(rule.get("tolerance", 0) or 0)
    label = f"{name} not worse than {alias} on {dataset}" + (f" (±{_fmt(tol)})" if tol else "")
    base = baselines.get(alias)
    newest = mine[-1]
    shown = _fmt(newest.metrics.get(name))
    if base is None or base.version is None:
        return Verdict(
            label, True, shown, "-", f"{alias} is not set: nothing to compare with", (newest.source,)
        )
    if newest.identity is None:
        why = f"the candidate's newest result on {dataset} names no data digest: it cannot be compared"
        return Verdict(label, False, shown, "-", why, (newest.source,))
    same = [
        r
        for r in base.results
        if r.dataset == dataset and r.identity == newest.identity and name in r.metrics
    ]
    if not same:
        why = (
            f"{alias} (v{base.version}) has no result for {name} on the same {dataset} data as the candidate's "
            f"newest ({_short(newest.identity)}): evaluate it on those data with 'mreg eval add'"
        )
        return Verdict(label, False, shown, "-", why, (newest.source,))
    incumbent = same[-1]
    return _compare(
        name,
        label,
        alias,
        base.version,
        _num(newest.metrics.get(name)),
        shown,
        _num(incumbent.metrics.get(name)),
        rule,
        (newest.source, incumbent.source),
    )


def _short(identity: str | None) -> str:
    if identity is None:
        return "unidentified"
    return identity[:19] + "…" if identity.startswith("sha256:") else identity


def _not_worse(
    name: str,
    value: float | None,
    shown: str,
    rule: Mapping[str, Any],
    baselines: Mapping[str, Baseline],
    cited: tuple[str, ...] = (),
) -> Verdict:
    alias = str(rule["not_worse_than"])
    tol = float(rule.get("tolerance", 0) or 0)
    label = f"{name} not worse than {alias}" + (f" (±{_fmt(tol)})" if tol else "")
    base = baselines.get(alias)
    if base is None or base.version is None:
        return Verdict(label, True, shown, "-", f"{alias} is not set: nothing to compare with", cited)
    base_value = _num(base.metrics.get(name))
    sources = cited + _cite(base.source)
    if base_value is None:
        return Verdict(
            label, False, shown, "-", f"{alias} (v{base.version}) has no number for {name}", sources
        )
    return _compare(name, label, alias, base.version, value, shown, base_value, rule, sources)


def _compare(
    metric: str,
    label: str,
    alias: str,
    base_version: int,
    value: float | None,
    shown: str,
    base_value: float | None,
    rule: Mapping[str, Any],
    sources: tuple[str, ...],
) -> Verdict:
    tol = float(rule.get("tolerance", 0) or 0)
    lower = rule.get("direction") == "lower"
    if base_value is None:
        return Verdict(
            label, False, shown, "-", f"{alias} (v{base_version}) has no number for {metric}", sources
        )
    bound = base_value + tol if lower else base_value - tol
    expected = f"{'<=' if lower else '>='} {_fmt(bound)} ({alias} v{base_version}: {_fmt(base_value)})"
    if value is None:
        return Verdict(label, False, shown, expected, f"the candidate has no number for {metric}", sources)
    ok = value <= bound if lower else value >= bound
    return Verdict(label, ok, shown, expected, f"delta {value - base_value:+.6g}", sources)


def baseline_aliases(rules: Sequence[Mapping[str, Any]]) -> list[str]:
    """The aliases whose current versions the rules compare against."""
    return sorted({str(r["not_worse_than"]) for r in rules if "not_worse_than" in r})


def passed(verdicts: Sequence[Verdict]) -> bool:
    return all(v.ok for v in verdicts)


def markdown_table(verdicts: Sequence[Verdict]) -> str:
    """The report as a GitHub-flavoured markdown table (PR bodies, step summaries)."""
    if not verdicts:
        return "_no gate rules for this alias_\n"
    lines = ["| rule | result | candidate | required | note | from |", "|---|---|---|---|---|---|"]
    for v in verdicts:
        cells = [v.rule, "✅ pass" if v.ok else "❌ FAIL", v.actual, v.expected, v.note]
        cited = "<br>".join(md(s) for s in v.sources)
        lines.append("| " + " | ".join(md(c) for c in cells) + f" | {cited} |")
    return "\n".join(lines) + "\n"
