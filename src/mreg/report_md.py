"""`mreg report --format md` (SPEC §13): a `Report` as GitHub-flavoured Markdown, for a job summary.

Pure: a `Report` in, text out. Every value that came from git (names, messages, reasons, requests,
identities, dataset names, even numbers) goes through `mreg.text.md`, so a hostile value renders as
text: no HTML, link, mention, emphasis or table break. The same report gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mreg.results import ModelReport, Report
from mreg.text import clip, size_text
from mreg.text import md as _md

VALUE_CHARS = 300  # characters of any one value from git shown


def md(value: object) -> str:
    """A value from git in the Markdown: clipped to VALUE_CHARS, escaped (`mreg.text.md`)."""
    return _md(clip(value, VALUE_CHARS))


SPARK = "▁▂▃▄▅▆▇█"
SPARK_POINTS = 40  # the newest versions a trend shows


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return [_row(head), _row("---" for _ in head), *(_row(r) for r in rows), ""]


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return md(value)
    return md(f"{value:.6g}" if isinstance(value, float) else value)


def _ver(version: int | None) -> str:
    return "—" if version is None else md(f"v{version}")


def _aliases(aliases: Mapping[str, int], unreviewed: Mapping[str, str]) -> str:
    shown = [f"{md(a)} → {_ver(v)}" for a, v in aliases.items()]
    shown += [f"{md(a)} **UNREVIEWED** (not followed)" for a in unreviewed]
    return ", ".join(shown) or "—"


def _spark(values: Sequence[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return SPARK[3] * len(values)
    return "".join(SPARK[round((v - lo) / (hi - lo) * (len(SPARK) - 1))] for v in values)


def _metrics(pairs: Mapping[str, Any]) -> str:
    return ", ".join(f"{md(k)}={_num(v)}" for k, v in sorted(pairs.items())) or "—"


def render(report: Report) -> str:
    """The whole report: a heading, the index of models, then one section per model."""
    out = ["# mreg registry report", ""]
    when = f"as it stood at {md(report.at)}" if report.at else "now"
    out += [f"Registry commit {md(report.commit[:12])}, {when}.", ""]
    out += ["## Models", ""]
    out += _table(
        ["model", "latest", "versions", "aliases", "last change", "owners"],
        [
            [
                md(m.model),
                _ver(m.latest if m.versions else None),
                len(m.versions),
                _aliases(m.aliases, m.unreviewed),
                md(m.last_change) or "—",
                ", ".join(md(o) for o in m.owners) or "—",
            ]
            for m in report.models
        ],
    )
    if report.problems:
        out += ["Left out (failed their checks; `mreg check` says more):", ""]
        out += [f"- {md(p)}" for p in report.problems] + [""]
    for m in report.models:
        out += _model(m)
    return "\n".join(out).rstrip("\n") + "\n"


def _model(m: ModelReport) -> list[str]:
    out = [f"## {md(m.model)}", ""]
    out += [
        f"Latest {_ver(m.latest if m.versions else None)}; aliases: {_aliases(m.aliases, m.unreviewed)}; "
        f"owners: {', '.join(md(o) for o in m.owners) or '—'}; last change {md(m.last_change) or '—'}.",
        "",
    ]
    out += ["### Versions", ""]
    out += _table(
        [
            "version",
            "created",
            "by",
            "message",
            "parent",
            *(md(k) for k in m.key_metrics),
            "evaluations",
            "aliases",
        ],
        [
            [
                _ver(v.version),
                md(v.created_at),
                md(v.created_by),
                md(v.message) if v.message else "",
                md(v.parent) if v.parent else "",
                *(_num(v.metrics[k]) if k in v.metrics else "" for k in m.key_metrics),
                len(v.evaluations) or "",
                ", ".join(
                    [*(md(a) for a in v.aliases), *([f"({md(v.state)})"] if v.state != "active" else [])]
                ),
            ]
            for v in m.versions
        ],
    )
    out += ["### Alias timeline", ""]
    if m.moves:
        rows = []
        for mv in m.moves:
            claimed = "" if mv.reviewed else "(claimed) "
            rows.append(
                [
                    md(mv.at),
                    md(mv.alias),
                    md(mv.event),
                    _ver(mv.version),
                    _ver(mv.previous),
                    claimed + md(mv.reason) if mv.reason else "",
                    claimed + md(mv.request) if mv.request else "",
                    md(mv.by),
                    ("reviewed" if mv.protected else "not required") if mv.reviewed else "**UNREVIEWED**",
                ]
            )
        out += _table(
            ["when", "alias", "move", "version", "previous", "reason", "request", "by", "review"], rows
        )
    else:
        out += ["No alias has moved.", ""]
    out += ["### Metrics over versions", ""]
    metric_rows = []
    for k in m.key_metrics:
        points = [
            (v.version, float(v.metrics[k]))
            for v in m.versions
            if isinstance(v.metrics.get(k), (int, float)) and not isinstance(v.metrics.get(k), bool)
        ]
        if not points:
            continue
        values = [p[1] for p in points]
        best_lo, best_hi = min(points, key=lambda p: p[1]), max(points, key=lambda p: p[1])
        metric_rows.append(
            [
                md(k),
                len(points),
                f"{_num(points[0][1])} ({_ver(points[0][0])})",
                f"{_num(best_lo[1])} ({_ver(best_lo[0])})",
                f"{_num(best_hi[1])} ({_ver(best_hi[0])})",
                f"{_num(points[-1][1])} ({_ver(points[-1][0])})",
                _spark(values[-SPARK_POINTS:]),
            ]
        )
    if metric_rows:
        out += _table(["metric", "versions", "first", "min", "max", "latest", "trend"], metric_rows)
    else:
        out += ["No numeric metrics recorded.", ""]
    out += ["### Evaluations", ""]
    by_dataset: dict[str, list[list[object]]] = {}
    for v in m.versions:
        for e in v.evaluations:
            by_dataset.setdefault(str(e.dataset.get("name")), []).append(
                [
                    _ver(v.version),
                    _metrics(e.metrics),
                    md(e.created_at),
                    md(e.created_by),
                    md(e.message) if e.message else "",
                ]
            )
    if not by_dataset:
        out += ["No evaluation recorded.", ""]
    for name in sorted(by_dataset):
        out += [f"#### Dataset {md(name)}", ""]
        out += _table(["version", "results", "when", "by", "message"], by_dataset[name])
    out += ["### Lineage", ""]
    out += _table(
        ["version", "fine-tuned from", "fine-tuned into", "data", "code", "files", "size"],
        [
            [
                _ver(v.version),
                md(v.parent) if v.parent else "—",
                ", ".join(md(c) for c in v.children) or "—",
                ", ".join(f"{md(d.get('name'))} ({md(d.get('uri'))})" for d in v.data) or "—",
                _code(v.source),
                len(v.files),
                size_text(v.size),
            ]
            for v in m.versions
        ],
    )
    return out


def _code(source: Mapping[str, Any] | None) -> str:
    if not source or not (source.get("commit") or source.get("repository")):
        return "—"
    text = md(str(source.get("commit") or "")[:12])
    if source.get("dirty"):
        text += " (uncommitted changes)"
    return text
