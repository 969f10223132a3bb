"""The static site (`mreg report -o DIR`, SPEC §13) in a real browser: Debian's Chromium, headless,
driven by Playwright (its Python package only; the browser is the system's, `.ci/run` installs it).

Each page is opened from disk as a user would open it: no console message, no request beyond the
page's own file, the charts' points are the versions' metrics, a hostile message shows as text, the
keyboard reaches the charts, light and dark both paint. Screenshots of a model page (light and
dark) are kept under `test-artifacts/report/` (or `$MREG_TEST_ARTIFACTS/report/`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mreg import Registry
from testing.templates import Templates
from tests.test_report import HOSTILE, World, _build, _forge

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(
    os.environ.get("MREG_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "test-artifacts"
)
# what this machine's probe found Chromium needs, headless as root and without a network
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine: `apt-get install chromium` (.ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def site(templates: Templates, tmp_path: Path) -> tuple[World, Path]:
    templates.get("report-world", _build).copy_to(tmp_path)
    world = World(tmp_path / "repo", tmp_path / "origin.git", tmp_path)
    _forge(world)
    out = tmp_path / "site"
    r = world.mreg("report", "-o", str(out))
    assert r.code == 0, r.err
    return world, out


class Opened:
    """A page opened from disk, with everything it logged and asked for."""

    def __init__(self, browser: Any, path: Path, *, scheme: str = "light", javascript: bool = True) -> None:
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, color_scheme=scheme, java_script_enabled=javascript
        )
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.as_uri()
        self.page.goto(self.url)

    def close(self) -> None:
        self.context.close()


def test_every_page_opens_clean_with_no_request_beyond_its_file(
    browser: Any, site: tuple[World, Path]
) -> None:
    _, out = site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 4
    for path in pages:
        opened = Opened(browser, path)
        try:
            assert opened.console == [], (path.name, opened.console)
            assert opened.requests == [opened.url], (path.name, opened.requests)
            assert opened.page.evaluate("document.scripts.length") == 0
            assert opened.page.evaluate("document.images.length") == 0
            # every link on the page stays inside the site
            hrefs = opened.page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            assert hrefs and all(h.startswith(out.as_uri()) for h in hrefs), hrefs
        finally:
            opened.close()


def test_chart_points_are_the_versions_metrics(browser: Any, site: tuple[World, Path]) -> None:
    world, out = site
    report = Registry.open(world.repo).report()
    ft = next(m for m in report.models if m.model == "ft")
    opened = Opened(browser, out / "models" / "ft.html")
    try:
        charts = opened.page.eval_on_selector_all(
            "svg.chart",
            """els => els.map(svg => ({
                title: svg.querySelector('title').textContent,
                desc: svg.querySelector('desc').textContent,
                width: svg.getBoundingClientRect().width,
                points: [...svg.querySelectorAll('circle.pt')].map(c => ({
                    version: Number(c.dataset.version), value: Number(c.dataset.value),
                    x: c.getBoundingClientRect().x, y: c.getBoundingClientRect().y,
                    label: c.querySelector('title').textContent})),
                bands: [...svg.querySelectorAll('rect.band')].map(r => r.querySelector('title').textContent),
            }))""",
        )
        assert (
            [c["title"] for c in charts]
            == [f"{k} over versions" for k in ft.key_metrics]
            == [
                "auc over versions",
                "loss over versions",
            ]
        )
        for chart, metric in zip(charts, ft.key_metrics, strict=True):
            assert chart["width"] > 400  # drawn, at a readable size
            expected = [(v.version, float(v.metrics[metric])) for v in ft.versions if metric in v.metrics]
            assert [(p["version"], p["value"]) for p in chart["points"]] == expected
            # drawn where the values say: left to right by version, higher values higher up
            xs = [p["x"] for p in chart["points"]]
            assert xs == sorted(xs) and len(set(xs)) == len(xs)
            by_value = sorted(chart["points"], key=lambda p: p["value"])
            assert [p["y"] for p in by_value] == sorted((p["y"] for p in by_value), reverse=True)
            assert chart["points"][1]["label"] == f"v2: {metric} {ft.versions[1].metrics[metric]:.6g}"
            # production: v2 held it (reviewed) until Mallory's unreviewed tag; her v3 is not shaded
            assert [b.split(":")[0] for b in chart["bands"]] == ["v2 in production"]
            assert "In production: v2." in chart["desc"]
    finally:
        opened.close()


def test_hostile_values_show_as_text_and_no_javascript_is_needed(
    browser: Any, site: tuple[World, Path]
) -> None:
    _, out = site
    for javascript in (True, False):
        opened = Opened(browser, out / "models" / "base.html", javascript=javascript)
        try:
            text = opened.page.inner_text("main")
            shown = HOSTILE.replace("\x1b", "\\x1b")
            assert text.count(shown) >= 3, text[:2000]
            assert opened.page.evaluate("document.querySelectorAll('script, a[href^=\"x\"]').length") == 0
            assert opened.page.locator("svg.chart").first.bounding_box()["height"] > 100
        finally:
            opened.close()


def test_keyboard_reaches_the_charts_and_dark_mode_paints(browser: Any, site: tuple[World, Path]) -> None:
    _, out = site
    opened = Opened(browser, out / "models" / "ft.html")
    try:
        opened.page.keyboard.press("Tab")
        assert opened.page.evaluate("document.activeElement.textContent") == "Skip to content"
        seen = []
        for _ in range(40):
            opened.page.keyboard.press("Tab")
            seen.append(opened.page.evaluate("document.activeElement.tagName"))
            if seen[-1] == "FIGURE":
                break
        assert seen[-1] == "FIGURE", seen
        outline = opened.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"  # focus is visible
        assert opened.page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
        shots = ARTIFACTS / "report"
        shots.mkdir(parents=True, exist_ok=True)
        opened.page.screenshot(path=str(shots / "model-light.png"), full_page=True)
        opened.page.keyboard.press("Escape")
        opened.page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
        opened.page.screenshot(path=str(shots / "model-light-top.png"))
    finally:
        opened.close()
    dark = Opened(browser, out / "models" / "ft.html", scheme="dark")
    try:
        assert dark.page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
        fill = dark.page.evaluate("getComputedStyle(document.querySelector('circle.pt')).fill")
        assert fill == "rgb(68, 147, 248)"
        dark.page.screenshot(path=str(shots / "model-dark.png"), full_page=True)
        dark.page.screenshot(path=str(shots / "model-dark-top.png"))
        index = Opened(browser, out / "index.html", scheme="dark")
        index.page.screenshot(path=str(shots / "index-dark.png"), full_page=True)
        index.close()
    finally:
        dark.close()
    assert (shots / "model-light.png").stat().st_size > 10_000
