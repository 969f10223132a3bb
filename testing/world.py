"""The trust world (a pytest plugin, registered in the root conftest): a team's bare remote, the
maintainers' clone with fraud v1 in production through a reviewed PR and v2 registered, one shared
store, and Mallory — a collaborator with push rights who is not a reviewer (SPEC §1) — with a clone
of her own. tests/test_trust.py and tests/test_evaluations.py attack it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.attacker import Attacker
from testing.gitutil import clone, run_mreg
from testing.team import Team, TeamTemplates

WORLD_V1 = {"auc": 0.90, "latency_ms": 20}
WORLD_V2 = {"auc": 0.93, "latency_ms": 22}


@dataclass
class World:
    team: Team
    mallory: Attacker
    tmp: Path

    def mreg(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> object:
        return run_mreg(*args, cwd=cwd or self.team.repo, env={**self.team.gh.env(), **(env or {})})

    def weights(self, version: int) -> bytes:
        return (self.tmp / f"model-{version - 1}" / "weights.bin").read_bytes()

    def fresh(self, name: str = "fresh") -> Path:
        path = self.tmp / name
        clone(self.team.bare, path)
        return path

    def mallory_registers(self, name: str = "fraud") -> str:
        d = self.tmp / "evil"
        d.mkdir(exist_ok=True)
        (d / "weights.bin").write_bytes(b"backdoor" * 100)
        r = run_mreg("register", name, str(d), "--metric", "auc=0.5", cwd=self.mallory.work)
        assert r.code == 0, r.err
        return r.out.strip()


def _world(team: Team, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("MREG_STORE", str(team.tmp / "shared-store"))
    assert team.register(WORLD_V1) == "fraud@v1"
    assert team.register(WORLD_V2) == "fraud@v2"
    assert team.mreg("promote", "fraud@v1", "--to", "production").code == 0
    team.gh.merge(max(team.gh.pulls))
    r = team.mreg("apply")
    assert r.code == 0, r.err


@pytest.fixture
def world(team_templates: TeamTemplates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """fraud v1 in production through a reviewed PR, v2 registered; one shared store for everybody."""
    monkeypatch.setenv("MREG_STORE", str(tmp_path / "shared-store"))
    for team in team_templates.get("trust-world", _world).copy_to(tmp_path):
        yield World(team, Attacker(team.bare, tmp_path / "mallory"), tmp_path)
