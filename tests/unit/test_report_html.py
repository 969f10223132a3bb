"""mreg.report_html: a Report as the static site's pages — escaping of every field, the markup's
shape (only the elements and links the renderer writes), charts, determinism (in-process, no git).

The pages are read back with the standard library's HTML parser, as a browser tokenises them: a
hostile value that became markup would show up as an element, an attribute or a link."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from mreg.report_html import render_site
from mreg.results import ModelReport, Report
from mreg.text import visible
from tests.unit.test_report_md import EVIL, _report

# every element the renderer writes; anything else in a page came from a value
ELEMENTS = {
    "html", "head", "meta", "title", "style", "body", "a", "header", "h1", "h2", "h3", "p", "dl", "dt",
    "dd", "code", "nav", "ul", "li", "main", "div", "table", "caption", "thead", "tbody", "tr", "th", "td",
    "span", "strong", "br", "figure", "figcaption", "svg", "desc", "rect", "line", "text", "polyline",
    "circle",
}  # fmt: skip


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _parse(data: bytes) -> Page:
    page = Page()
    page.feed(data.decode("utf-8"))
    page.close()
    return page


def _hostile_report() -> Report:
    """The Markdown test's report, with EVIL in every remaining field the site shows."""
    base = _report()
    (m,) = base.models
    versions = tuple(
        replace(
            v,
            files=({"path": EVIL, "size": 12, "digest": "sha256:" + "1" * 64},),
            size=12,
            source={"repository": EVIL, "commit": EVIL, "dirty": True},
            data=({"name": EVIL, "uri": EVIL, "digest": EVIL},),
            params={EVIL: EVIL},
            metrics={**v.metrics, EVIL: 1.0},
            children=(EVIL,),
        )
        for v in m.versions
    )
    model = replace(m, versions=versions, key_metrics=("auc", EVIL))
    return replace(base, at=EVIL, models=(model,))


def _check_shape(path: str, page: Page) -> None:
    for tag, attrs in page.tags:
        assert tag in ELEMENTS, (path, tag)
        for name, value in attrs.items():
            assert not name.startswith("on"), (path, tag, name)
            if name == "href":
                assert value is not None and not value.startswith(("javascript:", "data:", "//")), value
                assert ":" not in value.split("#")[0], (path, value)  # relative, inside the site
    assert page.comments == []


def test_every_value_from_git_renders_as_text_in_every_page() -> None:
    site = render_site(_hostile_report())
    assert sorted(site) == ["index.html", "models/m.html"]
    shown = visible(EVIL)  # control and bidi characters shown escaped, the rest as the characters
    for path, data in site.items():
        page = _parse(data)
        _check_shape(path, page)
        text = "".join(page.text)
        assert "\x1b" not in text and "\u202e" not in text
        assert shown in text, path
    model = "".join(_parse(site["models/m.html"]).text)
    assert model.count(shown) >= 15  # owners, messages, authors, reasons, files, data, code, params...


def test_the_page_has_every_section_charts_and_marks() -> None:
    site = render_site(_report())
    page = _parse(site["models/m.html"])
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids))
    for section in ("metrics", "aliases", "versions", "evaluations", "lineage", "files", "audit"):
        assert section in ids
    circles = [a for t, a in page.tags if t == "circle"]
    (m,) = _report().models
    expected = [(str(v.version), v.metrics["auc"]) for v in m.versions]
    assert [(c["data-version"], float(c["data-value"] or "nan")) for c in circles[:3]] == expected
    # the higher auc is drawn higher (SVG y grows downwards)
    ys = [float(c["cy"] or 0) for c in circles[:3]]
    assert ys[0] > ys[1] > ys[2]
    bands = [a for t, a in page.tags if t == "rect"]
    assert len(bands) == 2 and all(b["class"] == "band" for b in bands)  # v2 (reviewed) in both charts
    html = site["models/m.html"].decode()
    assert "staging: UNREVIEWED, not followed" in html and "(unreviewed tag)" in html


def test_same_report_same_bytes_and_no_time_of_generation() -> None:
    first = render_site(_report())
    assert render_site(_report()) == first
    assert b"2026-12" not in first["index.html"]  # nothing but the report's own times


def test_a_model_with_no_numbers_moves_or_evaluations() -> None:
    (m,) = _report().models
    bare = ModelReport(
        model="empty",
        latest=1,
        aliases={},
        unreviewed={},
        last_change="",
        owners=(),
        key_metrics=(),
        versions=(replace(m.versions[0], metrics={}, evaluations=(), parent=None),),
        moves=(),
    )
    html = render_site(Report(at=None, commit="b" * 40, models=(bare,)))["models/empty.html"].decode()
    assert "No numeric metrics recorded." in html and "No alias has moved." in html
    assert "No evaluation recorded." in html and "<svg" not in html


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.text(max_size=20))
def test_any_text_in_any_field_stays_text(value: str, key: str) -> None:
    (m,) = _report().models
    v = replace(
        m.versions[0],
        message=value,
        created_by=value,
        params={key: value},
        files=({"path": value, "size": 1},),
    )
    model = replace(m, versions=(v, *m.versions[1:]), owners=(value,))
    site = render_site(replace(_report(), models=(model,)))
    for path, data in site.items():
        page = _parse(data)
        _check_shape(path, page)
        if value.strip() and path == "models/m.html":
            assert visible(value) in "".join(page.text)
