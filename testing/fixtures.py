"""The fixtures test modules share, each defined once here. The root conftest registers this module
as a plugin (`pytest_plugins`), so every test can request them and no test module imports them.

- `isolated_env` (autouse): every test runs with its own HOME and cache, a pinned git identity and no
  inherited credentials (testing.env).
- `clock`: git's author and committer dates pinned; the test advances them instead of sleeping.
- `repo`: a git repository with one commit and an initialised registry; `model_dir`: two small files.
- `store`: each kind of object store (local directory, file://, memory://, S3), empty.
- `team`: a review-flow team (testing.team): a bare "GitHub" remote with the fraud policy, a clone
  with `mreg init`, a fake GitHub API; `live`: the same with fraud v1 (auc 0.90) in production,
  v2 better (auc 0.93), v3 worse (auc 0.80, latency 90 ms). Both are copies of templates built once per
  session (`team_templates`, on `templates`: testing.templates), each with a fake GitHub of its own.
- `receiver`: an HTTP endpoint on 127.0.0.1 that records requests and answers from a script
  (testing.receiver), for notification outlets.
- `s3_server`, `s3`: in testing.s3, registered beside this module.

Hooks: a test that uses the S3 server or a fake GitHub through these fixtures must carry the marker
`s3` or `github` (pyproject.toml), or the run stops at collection; and at the end of a run with
property tests, how many inputs they tried is printed (testing.strategies).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mreg.store import open_store
from testing.clock import Clock
from testing.env import isolate
from testing.gitutil import close_repos, make_registry
from testing.receiver import Receiver
from testing.team import Team, TeamTemplates
from testing.templates import Templates

if TYPE_CHECKING:
    from mreg.ports import ObjectStore
    from testing.s3 import Bucket


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    isolate(monkeypatch, home)
    yield home
    close_repos()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    # Clock sets os.environ itself; setting the variables through monkeypatch first makes the end of
    # the test remove them again
    monkeypatch.setenv("GIT_AUTHOR_DATE", "")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "")
    return Clock()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo with one commit and an initialised mreg registry (initialised in-process: the same
    branches `mreg init` makes, without a second interpreter; the CLI's init has tests of its own)."""
    return make_registry(tmp_path / "repo")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "weights.bin").write_bytes(b"\x00\x01" * 5000)
    (d / "config.json").write_text('{"layers": 3}\n')
    return d


@pytest.fixture(
    params=["local", "file", "memory", pytest.param("s3", marks=pytest.mark.s3)]  # s3: the loopback server
)
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ObjectStore:
    """Each kind of object store in turn, empty, as `open_store` makes it from a URL (S3 with 5 MiB
    parts, so that a multipart upload takes little data)."""
    kind = request.param
    if kind == "local":
        return open_store(str(tmp_path / "objects"), default_dir=tmp_path / "unused")
    if kind == "file":
        return open_store((tmp_path / "objects").as_uri(), default_dir=tmp_path / "unused")
    if kind == "memory":
        return open_store(f"memory://mreg-{uuid.uuid4().hex[:8]}", default_dir=tmp_path / "unused")
    monkeypatch.setenv("MREG_PART_SIZE", str(5 * 1024 * 1024))
    bucket: Bucket = request.getfixturevalue("s3")
    return open_store(bucket.url, default_dir=tmp_path / "unused")


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Directories built once per session and copied per test (testing.templates)."""
    return Templates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def team_templates(templates: Templates) -> TeamTemplates:
    """Teams built once per session (testing.team); a test using them is marked `github`."""
    return TeamTemplates(templates)


@pytest.fixture
def team(team_templates: TeamTemplates, tmp_path: Path) -> Iterator[Team]:
    """A team in this test's tmp_path: `origin.git` (bare, with the fraud policy on mreg/aliases),
    `repo` (a clone, `mreg init` run), `seed`, and `team.gh`, a fake GitHub serving origin.git."""
    yield from team_templates.get("team").copy_to(tmp_path)


def _live(team: Team, mp: pytest.MonkeyPatch) -> None:
    assert team.register({"auc": 0.90, "latency_ms": 20}) == "fraud@v1"
    assert team.register({"auc": 0.93, "latency_ms": 22}) == "fraud@v2"
    assert team.register({"auc": 0.80, "latency_ms": 90}) == "fraud@v3"
    team.approve("fraud@v1")  # as if an earlier pull request had been merged and applied


@pytest.fixture
def live(team_templates: TeamTemplates, tmp_path: Path) -> Iterator[Team]:
    """`team` with fraud v1 in production (an unreviewed bootstrap tag), v2 better, v3 worse; the
    fake GitHub has recorded no request and holds no pull request."""
    yield from team_templates.get("live", _live).copy_to(tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A notification endpoint on 127.0.0.1 (testing.receiver): records requests, answers from a
    script (`receiver.answer(500, 500, 200)`), then 200."""
    with Receiver() as r:
        yield r


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    strategies = sys.modules.get("testing.strategies")
    if strategies is not None and strategies.TRIED:
        tried = strategies.TRIED
        terminalreporter.write_line(f"[properties] inputs tried: {dict(tried)}; total {sum(tried.values())}")


# a marker each test that uses one of these fixtures (directly or through another) must carry
MARKED_BY = {"s3": ("s3", "s3_server"), "github": ("team_templates",)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        f"{item.nodeid}: @pytest.mark.{marker}"
        for item in items
        for marker, fixtures in MARKED_BY.items()
        if set(fixtures) & set(getattr(item, "fixturenames", ())) and item.get_closest_marker(marker) is None
    ]
    if unmarked:
        raise pytest.UsageError("tests without the marker their fixtures need:\n" + "\n".join(unmarked))
