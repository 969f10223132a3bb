"""`mreg report --format html` (SPEC §13): a `Report` as a static site — `index.html` and one
self-contained page a model under `models/`.

Pure: a `Report` in, `{relative path: bytes}` out. Each page carries its own stylesheet and draws its
charts as inline SVG: nothing is fetched when it is opened (a Content-Security-Policy of
`default-src 'none'` says so to the browser too), and it needs no JavaScript (there is none). Light
and dark follow the reader's system setting. Every value that came from git goes through
`mreg.text.page`: a hostile message, reason or file name renders as text, its control characters
visible. Deterministic: the same report gives the same bytes (sorted, no time of generation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mreg.refs import utc_stamp
from mreg.results import ModelReport, Report, ReportMove, ReportVersion
from mreg.text import clip, page, size_text

VALUE_CHARS = 300  # characters of any one value from git shown on a page
PAGE_BUDGET = 290_000  # bytes of a model page: past it the page shows fewer of the oldest rows
SHOWN = (500, 300)  # at most the newest versions and alias moves a page shows (halved until it fits)
SHADED_ALIAS = "production"  # the alias whose periods the metric charts shade
FILES_SHOWN = 8  # files listed a version; the rest are counted
PARAMS_SHOWN = 12  # params listed a version
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'"

CSS = """
:root{--bg:#fff;--fg:#1b1f24;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;--accent:#0969da;
--band:rgba(26,127,55,.14);--band-now:rgba(26,127,55,.30);--warn:#9a3412;--warn-bg:#fff1e5;
--ok:#1a7f37;--plot:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;
--head:#151b23;--accent:#4493f8;--band:rgba(63,185,80,.16);--band-now:rgba(63,185,80,.34);
--warn:#ffa657;--warn-bg:#2d1a0b;--ok:#3fb950;--plot:#4493f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif}
main,header.top,nav.toc{max-width:1200px;margin:0 auto;padding:0 20px}
header.top{padding-top:16px}
h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.3em;margin:1.6em 0 .5em;border-bottom:1px solid var(--line)}
h3{font-size:1.05em;margin:1.2em 0 .4em}
a{color:var(--accent)}
a:focus-visible,summary:focus-visible,figure:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:4px 8px}
.muted,.note{color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--head);font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.t{white-space:nowrap}
caption{text-align:left;caption-side:top}
td.msg{max-width:28em;overflow-wrap:anywhere}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.badge{display:inline-block;border:1px solid var(--line);border-radius:1em;padding:0 .55em;
font-size:.85em;margin:0 .2em .1em 0;white-space:nowrap}
.badge.unrev,.unrev{color:var(--warn);background:var(--warn-bg);border-color:var(--warn);font-weight:600}
.ok{color:var(--ok)}
nav.toc ul{list-style:none;padding:0;margin:.3em 0;display:flex;flex-wrap:wrap;gap:.2em 1.2em}
figure{margin:0 0 1.2em}figcaption{color:var(--muted);font-size:.9em}
svg.chart{width:100%;max-width:760px;height:auto;display:block}
svg .axis{stroke:var(--line);stroke-width:1}
svg .grid{stroke:var(--line);stroke-width:1;stroke-dasharray:3 3}
svg .lbl{fill:var(--muted);font-size:11px}
svg .line{fill:none;stroke:var(--plot);stroke-width:1.6}
svg .pt{fill:var(--plot)}
svg .band{fill:var(--band)}svg .band.now{fill:var(--band-now)}
.key{display:inline-block;width:1em;height:.8em;vertical-align:middle;background:var(--band-now);
border:1px solid var(--line)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:.5em 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
""".strip()


def render_site(report: Report) -> dict[str, bytes]:
    """Every page of the site, by its path relative to the site's directory."""
    known = {f"{m.model}@v{v.version}" for m in report.models for v in m.versions}  # what a link may name
    site = {"index.html": _index(report)}
    # what each page shows (the newest, within its budget), then pages whose links name only that
    shown = [_bounded(report, m, known) for m in report.models]
    known = {f"{m.model}@v{v.version}" for m in shown for v in m.versions}
    for m, whole in zip(shown, report.models, strict=True):
        site[f"models/{m.model}.html"] = _model_page(report, m, known, whole=whole)
    return {path: text.encode("utf-8") for path, text in sorted(site.items())}


# -- pieces ------------------------------------------------------------------------------------------
def e(value: object) -> str:
    """A value from git on a page: clipped to VALUE_CHARS, every character visible, no markup."""
    return page(clip(value, VALUE_CHARS))


def _html(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="color-scheme" content="light dark">\n'
        '<meta name="generator" content="mreg report">\n'
        f"<title>{title}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n"
        '<a class="skip" href="#main">Skip to content</a>\n'
        f"{body}</body>\n</html>\n"
    )


Cell = (
    str | tuple[str, str]
)  # markup, or (kind, markup): kind "n" a number, "msg" text that wraps, "th" the row's header


def _table(head: Sequence[str], rows: Iterable[Sequence[Cell]], *, caption: str = "") -> str:
    cap = f'<caption class="muted">{caption}</caption>' if caption else ""
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>\n" for r in rows)
    return f'<div class="scroll"><table>{cap}\n<thead><tr>{th}</tr></thead>\n<tbody>\n{body}</tbody></table></div>\n'


def _cell(cell: Cell) -> str:
    if isinstance(cell, str):
        return f"<td>{cell}</td>"
    kind, markup = cell
    if kind == "th":
        return f'<th scope="row">{markup}</th>'
    return f'<td class="{kind}">{markup}</td>'


def _n(markup: str) -> Cell:
    return ("n", markup)


def _h(markup: str) -> Cell:
    return ("th", markup)


def _t(markup: str) -> Cell:
    return ("t", markup)


def _msg(markup: str) -> Cell:
    return ("msg", markup)


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return e(value)
    return e(f"{value:.6g}" if isinstance(value, float) else value)


def _ver(version: int | None) -> str:
    return "—" if version is None else f"v{version}"


def _vlink(version: int | None, have: set[int] | None = None) -> str:
    """A version on its model's page: a link to its row, or text where the page has no such row
    (`have`: the versions shown; a tag may name one whose manifest was left out, or none at all)."""
    if version is None:
        return "—"
    if have is not None and version not in have:
        return f"v{version}"
    return f'<a href="#v{version}">v{version}</a>'


def _have(m: ModelReport) -> set[int]:
    return {v.version for v in m.versions}


def _state(v: ReportVersion) -> str:
    """A version's lifecycle (issue 20), where it is not simply active."""
    if v.state == "active":
        return ""
    return f'<span class="badge unrev" title="lifecycle: mreg log shows who and why">{e(v.state)}</span>'


def _badges(aliases: Iterable[str]) -> str:
    return "".join(f'<span class="badge">{e(a)}</span>' for a in aliases)


def _aliases(m: ModelReport, *, link: str = "") -> str:
    have = {v.version for v in m.versions}
    shown = [
        f'<span class="badge">{e(a)} → '
        + (f'<a href="{link}#v{v}">v{v}</a>' if v in have else f"v{v} (not shown)")
        + "</span>"
        for a, v in m.aliases.items()
    ]
    shown += [
        f'<span class="badge unrev" title="its newest tag {e(tag)} has no reviewed pin: no reader follows it">'
        f"{e(a)}: UNREVIEWED, not followed</span>"
        for a, tag in m.unreviewed.items()
    ]
    return "".join(shown) or "—"


def _ref_link(ref: str | None, model: str, known: set[str]) -> str:
    """A parent reference: a link where it names a version in this report, else text (an external
    URI is never a link: it came from git)."""
    if not ref:
        return ""
    name, sep, ver = ref.partition("@v")
    if sep and ver.isascii() and ver.isdigit() and ref in known:
        href = f"#v{int(ver)}" if name == model else f"{name}.html#v{int(ver)}"
        return f'<a href="{href}">{e(ref)}</a>'
    return f"<code>{e(ref)}</code>"


# -- index -------------------------------------------------------------------------------------------
def _index(report: Report) -> str:
    when = f"as it stood at {e(report.at)}" if report.at else "now"
    body = [
        '<header class="top"><h1>Model registry</h1>',
        f'<p class="muted">Registry commit <code>{e(report.commit[:12])}</code>, {when}. '
        f"{len(report.models)} model{'s' if len(report.models) != 1 else ''}.</p></header>\n",
        '<main id="main">\n<h2 id="models">Models</h2>\n',
    ]
    rows = [
        [
            _h(f'<a href="models/{e(m.model)}.html">{e(m.model)}</a>'),
            _n(f'<a href="models/{e(m.model)}.html#v{m.latest}">v{m.latest}</a>' if m.versions else "—"),
            _n(str(len(m.versions))),
            _aliases(m, link=f"models/{e(m.model)}.html"),
            _t(e(m.last_change) or "—"),
            ", ".join(e(o) for o in m.owners) or "—",
        ]
        for m in report.models
    ]
    body.append(_table(["model", "latest", "versions", "aliases", "last change", "owners"], rows))
    if not report.models:
        body.append("<p>No model is registered yet.</p>\n")
    body.append(_problems(report))
    body.append("</main>\n")
    return _html("Model registry", "".join(body))


def _problems(report: Report) -> str:
    if not report.problems:
        return ""
    items = "".join(f"<li><code>{e(p)}</code></li>\n" for p in report.problems)
    return (
        '<h2 id="problems">Left out</h2>\n<p>These records failed their checks and are not shown '
        f"(<code>mreg check</code> says more):</p>\n<ul>\n{items}</ul>\n"
    )


# -- a model's page ----------------------------------------------------------------------------------
SECTIONS = (
    ("metrics", "Metrics over versions"),
    ("aliases", "Alias timeline"),
    ("versions", "Versions"),
    ("evaluations", "Evaluations"),
    ("lineage", "Lineage"),
    ("files", "Files"),
    ("audit", "Audit trail"),
)


def _bounded(report: Report, m: ModelReport, known: set[str]) -> ModelReport:
    """What the model's page shows, within PAGE_BUDGET: the newest versions and moves; where a flood
    of tags or versions would pass the budget, the oldest are left out (and the page says so)."""
    versions, moves = SHOWN
    while True:
        shown = replace(m, versions=m.versions[-versions:], moves=m.moves[-moves:])
        if len(_model_page(report, shown, known, whole=m).encode()) <= PAGE_BUDGET or versions <= 10:
            return shown
        versions, moves = max(10, versions // 2), max(10, moves // 2)


def _model_page(report: Report, m: ModelReport, known: set[str], *, whole: ModelReport) -> str:
    when = f"as it stood at {e(report.at)}" if report.at else "now"
    left_out = ""
    if len(m.versions) < len(whole.versions) or len(m.moves) < len(whole.moves):
        left_out = (
            f'<p class="note">This page shows the newest {len(m.versions)} of {len(whole.versions)} versions '
            f"and the newest {len(m.moves)} of {len(whole.moves)} alias moves; "
            f"<code>mreg log {e(m.model)}</code> lists them all.</p>\n"
        )
    held = _periods(m.moves)
    toc = "".join(f'<li><a href="#{sid}">{title}</a></li>' for sid, title in SECTIONS)
    body = [
        '<header class="top"><p><a href="../index.html">← All models</a></p>',
        f"<h1>{e(m.model)}</h1>\n",
        '<dl class="facts">',
        f"<dt>Latest</dt><dd>{_vlink(m.latest) if m.versions else '—'} of {len(whole.versions)}</dd>",
        f"<dt>Aliases</dt><dd>{_aliases(m)}</dd>",
        f"<dt>Owners</dt><dd>{', '.join(e(o) for o in m.owners) or '—'}</dd>",
        f"<dt>Last change</dt><dd>{e(m.last_change) or '—'}</dd>",
        f"<dt>Registry</dt><dd>commit <code>{e(report.commit[:12])}</code>, {when}</dd></dl></header>\n",
        f'<nav class="toc" aria-label="Sections"><ul>{toc}</ul></nav>\n<main id="main">\n{left_out}',
        _metrics(m, held),
        _timeline(m, held),
        _versions(m, known),
        _evaluations(m),
        _lineage(m, known),
        _files(m),
        _audit(m),
        "</main>\n",
    ]
    return _html(f"{e(m.model)} · model registry", "".join(body))


def _versions(m: ModelReport, known: set[str]) -> str:
    head = ["version", "created", "by", "message", "parent"]
    head += [e(k) for k in m.key_metrics] + ["evaluations", "aliases now", "size"]
    rows = []
    for v in reversed(m.versions):  # newest first, as a registry page lists them
        rows.append(
            [
                _h(f'<span id="v{v.version}">v{v.version}</span>'),
                _t(e(v.created_at)),
                e(v.created_by),
                _msg(e(v.message) if v.message else ""),
                _ref_link(v.parent, m.model, known),
                *(_n(_num(v.metrics[k])) if k in v.metrics else "" for k in m.key_metrics),
                _n(str(len(v.evaluations))) if v.evaluations else "",
                _badges(v.aliases) + _state(v),
                _n(size_text(v.size)),
            ]
        )
    return '<h2 id="versions">Versions</h2>\n' + _table(head, rows, caption="Newest first.")


# -- alias periods -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Held:
    alias: str
    version: int
    start: str
    end: str | None  # None: still held
    ended_by: str  # how it ended: "", "moved", "demoted", "unreviewed tag"
    by: str
    reason: str | None


def _periods(moves: Sequence[ReportMove]) -> list[_Held]:
    """Who held each alias when, as readers followed it: a reviewed move starts a period; any later
    move of the alias ends it (an unreviewed tag too: readers then refuse the alias)."""
    current: dict[str, _Held] = {}
    out: list[_Held] = []
    for mv in moves:
        prev = current.pop(mv.alias, None)
        if prev is not None:
            how = "unreviewed tag" if not mv.reviewed else ("demoted" if mv.version is None else "moved")
            out.append(_Held(prev.alias, prev.version, prev.start, mv.at, how, prev.by, prev.reason))
        if mv.reviewed and mv.version is not None:
            current[mv.alias] = _Held(mv.alias, mv.version, mv.at, None, "", mv.by, mv.reason)
    out += current.values()
    return sorted(out, key=lambda h: (h.alias, utc_stamp(h.start)))


def _span(h: _Held) -> str:
    return f"{h.start} → {h.end if h.end is not None else 'now'}"


# -- charts ------------------------------------------------------------------------------------------
W, H = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 60, 14, 12, 30


def _metrics(m: ModelReport, held: Sequence[_Held]) -> str:
    out = ['<h2 id="metrics">Metrics over versions</h2>\n']
    shaded = [h for h in held if h.alias == SHADED_ALIAS]
    if m.key_metrics:
        if shaded:
            out.append(
                f'<p class="note"><span class="key"></span> shaded: the versions that were in '
                f"{SHADED_ALIAS} (darker: now). Every value is in the versions table.</p>\n"
            )
        else:
            out.append(
                f'<p class="note">No version has been in {SHADED_ALIAS} yet. Every value is in the '
                "versions table.</p>\n"
            )
    charts = [_chart(m, k, i, shaded) for i, k in enumerate(m.key_metrics)]
    charts = [c for c in charts if c]
    out += charts or ["<p>No numeric metrics recorded.</p>\n"]
    return "".join(out)


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _chart(m: ModelReport, metric: str, number: int, shaded: Sequence[_Held]) -> str:
    points = [
        (i, v.version, float(v.metrics[metric]))
        for i, v in enumerate(m.versions)
        if isinstance(v.metrics.get(metric), (int, float))
        and not isinstance(v.metrics.get(metric), bool)
        and math.isfinite(float(v.metrics[metric]))
    ]
    if not points:
        return ""
    n = len(m.versions)
    step = (W - LEFT - RIGHT) / n
    lo, hi = min(p[2] for p in points), max(p[2] for p in points)
    # drawn in units of the largest magnitude, so that no difference overflows (a metric may be ±1e308)
    unit = max(abs(lo), abs(hi)) or 1.0
    pad = (hi / unit - lo / unit) * 0.08 or 0.1
    y0, y1 = lo / unit - pad, hi / unit + pad

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    def y(value: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - (value / unit - y0) / (y1 - y0))

    cid = f"c{number}"
    index = {v.version: i for i, v in enumerate(m.versions)}
    now = {h.version for h in shaded if h.end is None}
    periods: dict[int, list[str]] = {}
    for h in shaded:
        periods.setdefault(h.version, []).append(_span(h))
    parts = [
        f'<figure tabindex="0" aria-labelledby="{cid}-cap">\n'
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{cid}-t {cid}-d">'
        f'<title id="{cid}-t">{e(metric)} over versions</title>'
        f'<desc id="{cid}-d">{_describe(metric, points, sorted(periods))}</desc>\n'
    ]
    for version in sorted(periods):
        if version not in index:
            continue
        cls = "band now" if version in now else "band"
        parts.append(
            f'<rect class="{cls}" x="{_fmt(x(index[version]) - step / 2)}" y="{TOP}" width="{_fmt(step)}" '
            f'height="{H - TOP - BOTTOM}"><title>v{version} in {SHADED_ALIAS}: '
            f"{e('; '.join(periods[version]))}</title></rect>\n"
        )
    for value in sorted({lo, lo / 2 + hi / 2, hi}):
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{_fmt(y(value))}" y2="{_fmt(y(value))}"/>'
            f'<text class="lbl" x="{LEFT - 6}" y="{_fmt(y(value) + 4)}" text-anchor="end">{e(f"{value:.4g}")}</text>\n'
        )
    base = H - BOTTOM
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{base}" y2="{base}"/>\n')
    every = max(1, math.ceil(n / 10))
    for i, v in enumerate(m.versions):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="lbl" x="{_fmt(x(i))}" y="{base + 16}" text-anchor="middle">v{v.version}</text>\n'
            )
    coords = " ".join(f"{_fmt(x(i))},{_fmt(y(val))}" for i, _, val in points)
    parts.append(f'<polyline class="line" points="{coords}"/>\n')
    for i, version, val in points:
        parts.append(
            f'<circle class="pt" cx="{_fmt(x(i))}" cy="{_fmt(y(val))}" r="3" data-version="{version}" '
            f'data-value="{val!r}"><title>v{version}: {e(metric)} {_num(val)}</title></circle>\n'
        )
    parts.append(
        f'</svg>\n<figcaption id="{cid}-cap">{e(metric)} over {len(points)} version'
        f"{'s' if len(points) != 1 else ''}</figcaption>\n</figure>\n"
    )
    return "".join(parts)


def _describe(metric: str, points: Sequence[tuple[int, int, float]], held: Sequence[int]) -> str:
    """The chart in words (its text alternative)."""
    first, last = points[0], points[-1]
    low = min(points, key=lambda p: p[2])
    high = max(points, key=lambda p: p[2])
    text = (
        f"{e(metric)} for {len(points)} versions: first {_num(first[2])} (v{first[1]}), lowest "
        f"{_num(low[2])} (v{low[1]}), highest {_num(high[2])} (v{high[1]}), latest {_num(last[2])} "
        f"(v{last[1]})."
    )
    if held:
        shown = ", ".join(f"v{v}" for v in held[:20]) + (
            f" and {len(held) - 20} more" if len(held) > 20 else ""
        )
        text += f" In {SHADED_ALIAS}: {shown}."
    return text


# -- evaluations, timeline, lineage, files, audit ----------------------------------------------------
def _evaluations(m: ModelReport) -> str:
    out = ['<h2 id="evaluations">Evaluations</h2>\n']
    by_dataset: dict[str, list[tuple[ReportVersion, Any]]] = {}
    for v in m.versions:
        for ev in v.evaluations:
            by_dataset.setdefault(str(ev.dataset.get("name")), []).append((v, ev))
    if not by_dataset:
        return out[0] + "<p>No evaluation recorded.</p>\n"
    for name in sorted(by_dataset):
        rows = []
        identities = sorted({str(ev.dataset_identity) for _, ev in by_dataset[name] if ev.dataset_identity})
        for v, ev in by_dataset[name]:
            rows.append(
                [
                    _h(_vlink(v.version)),
                    ", ".join(f"{e(k)}={_num(x)}" for k, x in sorted(ev.metrics.items())) or "—",
                    _t(e(ev.created_at)),
                    e(ev.created_by),
                    _msg(e(ev.message) if ev.message else ""),
                ]
            )
        ident = (
            "identity " + ", ".join(f"<code>{e(i[:24])}</code>" for i in identities)
            if identities
            else "no identity recorded"
        )
        if len(identities) > 1:
            ident += ' <span class="unrev">different bytes: results are not comparable across them</span>'
        out.append(f'<h3>Dataset {e(name)}</h3>\n<p class="muted">{ident}</p>\n')
        out.append(_table(["version", "results", "when", "by", "message"], rows))
    return "".join(out)


def _timeline(m: ModelReport, held: Sequence[_Held]) -> str:
    have = _have(m)
    out = ['<h2 id="aliases">Alias timeline</h2>\n']
    if not m.moves:
        return out[0] + "<p>No alias has moved.</p>\n"
    out.append("<h3>Who held each alias</h3>\n")
    rows = [
        [
            _h(e(h.alias)),
            _vlink(h.version, have),
            _t(e(h.start)),
            e(h.end) + (f" ({e(h.ended_by)})" if h.ended_by else "")
            if h.end is not None
            else "<strong>now</strong>",
            e(h.by),
            _msg(e(h.reason) if h.reason else ""),
        ]
        for h in held
    ]
    out.append(
        _table(["alias", "version", "from", "until", "moved by", "reason"], rows)
        if rows
        else "<p>No reviewed move: no reader has followed any alias.</p>\n"
    )
    out.append("<h3>Every move</h3>\n")
    rows = []
    for mv in m.moves:
        claimed = "" if mv.reviewed else '<span class="unrev">(claimed)</span> '
        rows.append(
            [
                _t(e(mv.at)),
                e(mv.alias),
                e(mv.event),
                _vlink(mv.version, have),
                _vlink(mv.previous, have),
                _msg(claimed + e(mv.reason) if mv.reason else ""),
                _msg(claimed + e(mv.request) if mv.request else ""),
                e(mv.by),
                '<span class="ok">reviewed</span>'
                if mv.reviewed
                else '<span class="badge unrev">UNREVIEWED</span>',
                f"<code>{e(mv.tag)}</code>",
            ]
        )
    out.append(
        _table(
            ["when", "alias", "move", "version", "previous", "reason", "request", "by", "review", "tag"],
            rows,
            caption="Oldest first. Reviewed: the move applies what reviewers approved (a pin on the "
            "governed branch). UNREVIEWED: no reviewed pin is behind it; no reader follows it, and its "
            "reason and request are the tagger's word only. Not required: the alias is not protected.",
        )
    )
    return "".join(out)


def _lineage(m: ModelReport, known: set[str]) -> str:
    rows = []
    for v in reversed(m.versions):
        data = "<br>".join(
            f"{e(d.get('name'))}: <code>{e(d.get('uri'))}</code>"
            + "".join(
                f" {k} <code>{e(str(d[k])[:19])}</code>" for k in ("digest", "etag", "version") if d.get(k)
            )
            for d in v.data
        )
        src = v.source or {}
        code = ""
        if src.get("commit") or src.get("repository"):
            code = f"<code>{e(str(src.get('commit') or '')[:12])}</code>"
            if src.get("repository"):
                code += f" in <code>{e(src.get('repository'))}</code>"
            if src.get("dirty"):
                code += ' <span class="unrev">uncommitted changes</span>'
        rows.append(
            [
                _h(_vlink(v.version)),
                _ref_link(v.parent, m.model, known) or "—",
                ", ".join(_ref_link(k, m.model, known) for k in v.children) or "—",
                _msg(data or "—"),
                _msg(code or "—"),
            ]
        )
    return '<h2 id="lineage">Lineage</h2>\n' + _table(
        ["version", "fine-tuned from", "fine-tuned into", "data", "code"],
        rows,
        caption="Newest first. Parents and children link where they are in this report.",
    )


def _files(m: ModelReport) -> str:
    rows = []
    for v in reversed(m.versions):
        listed = [
            f"<code>{e(f.get('path'))}</code> {e(size_text(int(f.get('size') or 0)))}"
            for f in v.files[:FILES_SHOWN]
        ]
        more = len(v.files) - FILES_SHOWN
        if more > 0:
            listed.append(f'<span class="muted">and {more} more</span>')
        params = ", ".join(f"{e(k)}={_num(x)}" for k, x in list(v.params.items())[:PARAMS_SHOWN])
        if len(v.params) > PARAMS_SHOWN:
            params += f' <span class="muted">and {len(v.params) - PARAMS_SHOWN} more</span>'
        rows.append(
            [
                _h(_vlink(v.version)),
                _n(str(len(v.files))),
                _n(size_text(v.size)),
                _msg("<br>".join(listed)),
                _msg(params or "—"),
                f"<code>{e(v.digest[:19])}</code>",
            ]
        )
    return '<h2 id="files">Files</h2>\n' + _table(
        ["version", "files", "size", "paths", "params", "digest"],
        rows,
        caption="Newest first. <code>mreg show MODEL@vN</code> lists every file with its digest.",
    )


def _audit(m: ModelReport) -> str:
    have = _have(m)
    entries: list[tuple[str, int, int, str, list[Cell]]] = []
    for v in m.versions:
        entries.append(
            (
                utc_stamp(v.created_at),
                0,
                v.version,
                "",
                [
                    _t(e(v.created_at)),
                    e(v.created_by),
                    f"registered {_vlink(v.version)}",
                    _msg(e(v.message or "")),
                ],
            )
        )
        for ev in v.evaluations:
            entries.append(
                (
                    utc_stamp(ev.created_at),
                    1,
                    v.version,
                    str(ev.number),
                    [
                        _t(e(ev.created_at)),
                        e(ev.created_by),
                        f"evaluated {_vlink(v.version)} on {e(ev.dataset.get('name'))}",
                        _msg(", ".join(f"{e(k)}={_num(x)}" for k, x in sorted(ev.metrics.items()))),
                    ],
                )
            )
        for lc in v.lifecycle:
            why = e(lc.reason)
            if lc.bytes_freed:
                why += f" ({size_text(lc.bytes_freed)} freed)"
            entries.append(
                (
                    utc_stamp(lc.at),
                    3,
                    v.version,
                    f"{lc.number:09d}",
                    [_t(e(lc.at)), e(lc.author or lc.by), f"{e(lc.event)} {_vlink(v.version)}", _msg(why)],
                )
            )
    for mv in m.moves:
        what = f"{e(mv.event)} {e(mv.alias)} → {_vlink(mv.version, have)}"
        why = e(mv.reason or "")
        if mv.request:
            why += f" (request {e(mv.request)})"
        if not mv.reviewed:
            what += ' <span class="badge unrev">UNREVIEWED</span>'
            why = '<span class="unrev">(claimed)</span> ' + why if why else ""
        entries.append(
            (
                utc_stamp(mv.at),
                2,
                mv.version or 0,
                f"{mv.alias}/{mv.seq:09d}",
                [_t(e(mv.at)), e(mv.by), what, _msg(why)],
            )
        )
    entries.sort(key=lambda t: (t[0], t[1], t[2], t[3]))
    rows = [cells for *_, cells in reversed(entries)]
    return '<h2 id="audit">Audit trail</h2>\n' + _table(
        ["when", "who", "what", "why"],
        rows,
        caption="Newest first: registrations, evaluations, alias moves and lifecycle records.",
    )
