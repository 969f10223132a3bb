"""Gate rules (SPEC §9) → verdicts. Pure data in, data out: rules are never code to eval.

```yaml
gates:
  production:
    - {metric: auc, min: 0.90}
    - {metric: latency_ms, max: 50}
    - {metric: auc, not_worse_than: production, tolerance: 0.005}        # higher is better
    - {metric: latency_ms, not_worse_than: production, direction: lower}
    - {require: [environment.lockfile, data]}
```
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "ok": self.ok,
            "actual": self.actual,
            "expected": self.expected,
            "note": self.note,
        }


@dataclass(frozen=True)
class Baseline:
    """The version an alias currently names (for not_worse_than); `version` None = alias unset."""

    alias: str
    version: int | None
    metrics: Mapping[str, Any]


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
    manifest: Mapping[str, Any],
    baselines: Mapping[str, Baseline],
) -> list[Verdict]:
    """Every check of every rule against the candidate's manifest; a missing figure fails its check."""
    metrics = manifest.get("metrics") or {}
    out: list[Verdict] = []
    for rule in rules:
        if "require" in rule:
            for field in rule["require"]:
                value = lookup(manifest, field)
                ok = _present(value)
                out.append(Verdict(f"require {field}", ok, "present" if ok else "missing", "present"))
            continue
        name = str(rule["metric"])
        raw = metrics.get(name)
        value = _num(raw)
        shown = _fmt(raw) if name in metrics else "missing"
        if "min" in rule:
            ok = value is not None and value >= float(rule["min"])
            out.append(Verdict(f"{name} min", ok, shown, f">= {_fmt(rule['min'])}"))
        if "max" in rule:
            ok = value is not None and value <= float(rule["max"])
            out.append(Verdict(f"{name} max", ok, shown, f"<= {_fmt(rule['max'])}"))
        if "not_worse_than" in rule:
            out.append(_not_worse(name, value, shown, rule, baselines))
    return out


def _not_worse(
    name: str, value: float | None, shown: str, rule: Mapping[str, Any], baselines: Mapping[str, Baseline]
) -> Verdict:
    alias = str(rule["not_worse_than"])
    tol = float(rule.get("tolerance", 0) or 0)
    lower = rule.get("direction") == "lower"
    label = f"{name} not worse than {alias}" + (f" (±{_fmt(tol)})" if tol else "")
    base = baselines.get(alias)
    if base is None or base.version is None:
        return Verdict(label, True, shown, "-", f"{alias} is not set: nothing to compare with")
    base_value = _num(base.metrics.get(name))
    if base_value is None:
        return Verdict(label, False, shown, "-", f"{alias} (v{base.version}) has no number for {name}")
    bound = base_value + tol if lower else base_value - tol
    expected = f"{'<=' if lower else '>='} {_fmt(bound)} ({alias} v{base.version}: {_fmt(base_value)})"
    if value is None:
        return Verdict(label, False, shown, expected, f"the candidate has no number for {name}")
    ok = value <= bound if lower else value >= bound
    delta = value - base_value
    return Verdict(label, ok, shown, expected, f"delta {delta:+.6g}")


def baseline_aliases(rules: Sequence[Mapping[str, Any]]) -> list[str]:
    """The aliases whose current versions the rules compare against."""
    return sorted({str(r["not_worse_than"]) for r in rules if "not_worse_than" in r})


def passed(verdicts: Sequence[Verdict]) -> bool:
    return all(v.ok for v in verdicts)


def markdown_table(verdicts: Sequence[Verdict]) -> str:
    """The report as a GitHub-flavoured markdown table (PR bodies, step summaries)."""
    if not verdicts:
        return "_no gate rules for this alias_\n"
    lines = ["| rule | result | candidate | required | note |", "|---|---|---|---|---|"]
    for v in verdicts:
        cells = [v.rule, "✅ pass" if v.ok else "❌ FAIL", v.actual, v.expected, v.note]
        lines.append("| " + " | ".join(md(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
