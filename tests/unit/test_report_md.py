"""mreg.report_md: a Report as Markdown — escaping, table shape, determinism (in-process, no git)."""

from __future__ import annotations

import re

from mreg.report_md import render
from mreg.resolved import Evaluation
from mreg.results import ModelReport, Report, ReportMove, ReportVersion

EVIL = "\x1b[2J<img src=x onerror=alert(1)> | a | [x](https://evil.example) @team #7 <!-- `code` \u202e"


def _report() -> Report:
    ev = Evaluation(
        model="m",
        version=2,
        number=1,
        path="models/m/evaluations/2/1.yaml",
        dataset={"name": EVIL, "uri": "s3://b/k"},
        dataset_identity="etag=1",
        metrics={EVIL: 0.5, "auc": 0.9},
        created_at="2026-01-02T00:00:00Z",
        created_by=EVIL,
        message=EVIL,
        commit=None,
    )
    versions = tuple(
        ReportVersion(
            version=n,
            digest="sha256:" + "0" * 64,
            created_at=f"2026-01-0{n}T00:00:00Z",
            created_by=EVIL,
            message=EVIL,
            metrics={"auc": 0.8 + n / 100, "loss": 1 / n},
            parent=f"m@v{n - 1}" if n > 1 else EVIL,
            aliases=("production",) if n == 2 else (),
            evaluations=(ev,) if n == 2 else (),
        )
        for n in (1, 2, 3)
    )
    moves = (
        ReportMove(
            "production", 1, "promote", 2, None, EVIL, EVIL, EVIL, "2026-01-03T00:00:00Z", "t/1", True
        ),
        ReportMove("production", 2, "promote", 3, 2, EVIL, EVIL, EVIL, "2026-01-04T00:00:00Z", "t/2", False),
    )
    model = ModelReport(
        model="m",
        latest=3,
        aliases={"production": 2},
        unreviewed={"staging": "mreg/m/staging/1"},
        last_change="2026-01-04T00:00:00Z",
        owners=(EVIL,),
        key_metrics=("auc", "loss"),
        versions=versions,
        moves=moves,
    )
    return Report(at=None, commit="a" * 40, models=(model,), problems=(EVIL,))


def test_every_value_from_git_renders_as_text() -> None:
    text = render(_report())
    for bad in ("\x1b", "<img", "<!--", "[x](", "@team", "#7", "`code`", "\u202e", "https://"):
        assert bad not in text, bad
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&#64;team" in text and "\\\\u202e" in text


def test_every_table_row_has_as_many_cells_as_its_header() -> None:
    text = render(_report())
    width = None
    for line in text.splitlines():
        if not line.startswith("| "):
            width = None
            continue
        cells = len(re.split(r"(?<!\\)\|", line.strip()[1:-1]))
        width = width or cells
        assert cells == width, line


def test_unreviewed_moves_and_aliases_are_marked_and_their_claims_qualified() -> None:
    text = render(_report())
    timeline = text.split("### Alias timeline")[1].split("###")[0]
    rows = [line for line in timeline.splitlines() if line.startswith("| 2026")]
    assert rows[0].endswith("| reviewed |") and "(claimed)" not in rows[0]
    assert rows[1].endswith("| **UNREVIEWED** |") and rows[1].count("(claimed) ") == 2
    assert "staging **UNREVIEWED** (not followed)" in text and "production → v2" in text


def test_metrics_over_versions_and_the_same_bytes_every_time() -> None:
    text = render(_report())
    auc = next(line for line in text.splitlines() if line.startswith("| auc | 3 |"))
    assert "0.81 (v1)" in auc and "0.83 (v3)" in auc and auc.endswith("| ▁▅█ |")
    assert render(_report()) == text and text.endswith("\n") and not text.endswith("\n\n")
