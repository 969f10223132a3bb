"""Review of issue 18 (SPEC §14): the foreign registry is hostile input.

A colleague's MLflow server or GTO repository can hold anything. Each test here builds one hostile
item with the real MLflow client (sqlite backend, local artifact store; edited with sqlite where the
client would refuse) or the real `gto` CLI / crafted GTO tags, imports it with the real `mreg`, and
states what must hold. A test that reproduces a problem still open is `xfail(strict=True)` with the
problem as its reason; the others guard what was found to hold.

Run as a script (`python tests/test_import_attack.py DIR SECRET`) it builds the hostile MLflow
registries under DIR, one database per case (MLflow's import is slow: one subprocess for all).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GTO = str(Path(sys.executable).parent / "gto")
SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- importer's own key\n"


# --------------------------------------------------------------------------- the hostile MLflow worlds


def _build(base: Path, secret: Path) -> None:  # pragma: no cover - runs in a subprocess
    import logging
    import sqlite3
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    import mlflow

    def client(name: str) -> Any:
        root = base / name
        root.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        c = mlflow.MlflowClient(uri, uri)
        if c.get_experiment_by_name("e") is None:
            c.create_experiment("e", artifact_location=(root / "artifacts").as_uri())
        mlflow.set_experiment("e")
        return c

    def version(c: Any, name: str, files: dict[str, bytes], params: Any = None, metrics: Any = None) -> Any:
        with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
            for rel, data in files.items():
                Path(tmp, rel).write_bytes(data)
            mlflow.log_artifacts(tmp, artifact_path="model")
            if params:
                mlflow.log_params(params)
            for k, v in (metrics or {}).items():
                mlflow.log_metric(k, v)
            return c.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)

    # a version whose source is a directory of the importer's machine, outside any artifact store
    c = client("source")
    c.create_registered_model("m")
    version(c, "m", {"w.bin": b"ok"})
    c.create_model_version("m", secret.parent.as_uri(), None)
    # a symlink in the artifact store that leads to the importer's secret
    c = client("symlink")
    c.create_registered_model("m")
    mv = version(c, "m", {"w.bin": b"ok", "cfg": b"x"})
    link = Path(mv.source.removeprefix("file://")) / "cfg"
    link.unlink()
    link.symlink_to(secret)
    # NaN and inf metrics (MLflow takes them: a diverged run)
    c = client("nan")
    c.create_registered_model("m")
    version(c, "m", {"w": b"1"}, metrics={"loss": float("nan"), "auc": 0.9})
    version(c, "m", {"w": b"2"}, metrics={"loss": float("inf")})
    version(c, "m", {"w": b"3"}, metrics={"loss": 0.5})
    # two MLflow aliases that map to one mreg alias
    c = client("aliases")
    c.create_registered_model("m")
    version(c, "m", {"w": b"1"})
    version(c, "m", {"w": b"2"})
    c.set_registered_model_alias("m", "champ", "1")
    c.set_registered_model_alias("m", "Champ", "2")
    # one model name with a quote next to a good model
    c = client("quote")
    c.create_registered_model("good")
    version(c, "good", {"w": b"1"})
    c.create_registered_model("o'brien")
    version(c, "o'brien", {"w": b"2"})
    # absurd version numbers next to a good model
    c = client("absurd")
    c.create_registered_model("good")
    version(c, "good", {"w": b"good"})
    for name, number in (("zero", 0), ("neg", -5), ("huge", 10**12)):
        c.create_registered_model(name)
        version(c, name, {"w": name.encode()})
        db = sqlite3.connect(base / "absurd" / "mlflow.db")
        db.execute("update model_versions set version=? where name=?", (number, name))
        db.execute("update model_version_tags set version=? where name=?", (number, name))
        db.commit()
        db.close()
    # a version created (and moved) far in the future, next to a normal one
    c = client("future")
    c.create_registered_model("m")
    version(c, "m", {"w": b"1"})
    version(c, "m", {"w": b"2"})
    c.set_registered_model_alias("m", "champ", "2")
    db = sqlite3.connect(base / "future" / "mlflow.db")
    db.execute(
        "update model_versions set creation_time=?, last_updated_time=? where version=2", (10**17, 10**17)
    )
    db.commit()
    db.close()
    # an ordinary param whose name looks like a credential's (no value is secret)
    c = client("keyname")
    c.create_registered_model("m")
    version(c, "m", {"w": b"1"}, params={"sort_key": "timestamp"})


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    where = tmp_path_factory.mktemp("hostile")
    secret = where / "home" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(SECRET)
    subprocess.run(
        [sys.executable, __file__, str(where / "worlds"), str(secret)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return {"worlds": where / "worlds", "secret": secret}


def _uri(hostile: dict[str, Any], case: str) -> str:
    return f"sqlite:///{hostile['worlds'] / case / 'mlflow.db'}"


def _registry(tmp_path: Path) -> Path:
    from testing.gitutil import make_registry

    return make_registry(tmp_path / "repo")


def _mlflow(repo: Path, uri: str, *extra: str) -> Any:
    from testing.gitutil import run_mreg

    return run_mreg("import", "mlflow", "--tracking-uri", uri, *extra, cwd=repo, timeout=300)


def _mreg(repo: Path, *args: str) -> Any:
    from testing.gitutil import run_mreg

    return run_mreg(*args, cwd=repo)


def _store_holds(repo: Path, data: bytes) -> bool:
    """Whether any stored object holds these bytes (the per-clone default store is in the git dir)."""
    for p in (repo / ".git").rglob("*"):
        if p.is_file() and p.stat().st_size < 1 << 20 and data in p.read_bytes():
            return True
    return False


def _manifests(repo: Path, model: str) -> dict[str, Any]:
    out = {}
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"mreg/registry:models/{model}/versions"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout.split()
    for n in names:
        out[n] = subprocess.run(
            ["git", "show", f"mreg/registry:models/{model}/versions/{n}"],
            cwd=repo,
            capture_output=True,
            text=True,
        ).stdout
    return out


# --------------------------------------------------------------------------- MLflow


def test_a_version_whose_source_is_a_local_path_outside_the_store_is_not_read(
    hostile: dict[str, Any], tmp_path: Path
) -> None:
    repo = _registry(tmp_path)
    r = _mlflow(repo, _uri(hostile, "source"))
    assert "id_rsa" not in "".join(_manifests(repo, "m").values())
    assert not _store_holds(repo, SECRET)
    assert r.code == 1 and "m v2" in r.err  # listed, not imported
    assert _mreg(repo, "check").code == 0


def test_a_symlink_in_the_artifact_store_leading_out_is_never_followed(
    hostile: dict[str, Any], tmp_path: Path
) -> None:
    """Holds: MLflow's own download refuses the link; the version is listed, nothing of it stored."""
    repo = _registry(tmp_path)
    r = _mlflow(repo, _uri(hostile, "symlink"))
    assert r.code == 1 and "m v1" in r.err and "artifact missing" in r.err
    assert not _store_holds(repo, SECRET)
    assert _mreg(repo, "check").code == 0


def test_a_nan_metric_does_not_keep_the_version_out(hostile: dict[str, Any], tmp_path: Path) -> None:
    repo = _registry(tmp_path)
    _mlflow(repo, _uri(hostile, "nan"))
    assert sorted(_manifests(repo, "m")) == ["1.yaml", "2.yaml", "3.yaml"]


def test_two_aliases_that_map_to_one_are_reported(hostile: dict[str, Any], tmp_path: Path) -> None:
    repo = _registry(tmp_path)
    r = _mlflow(repo, _uri(hostile, "aliases"))
    assert r.code == 1 and "Champ" in r.err and "champ" in r.err


def test_a_quote_in_one_model_name_does_not_stop_the_others(hostile: dict[str, Any], tmp_path: Path) -> None:
    repo = _registry(tmp_path)
    r = _mlflow(repo, _uri(hostile, "quote"))
    assert r.code == 1 and "o'brien" in r.err
    assert _mreg(repo, "resolve", "good@v1").code == 0


def test_absurd_version_numbers_are_listed_and_the_rest_imported(
    hostile: dict[str, Any], tmp_path: Path
) -> None:
    repo = _registry(tmp_path)
    r = _mlflow(repo, _uri(hostile, "absurd"))
    assert _mreg(repo, "check").code == 0
    assert _mreg(repo, "resolve", "good@v1").code == 0
    assert r.code == 1
    for name in ("zero", "neg", "huge"):
        assert f"{name} v" in r.err


def test_a_far_future_time_is_not_an_internal_error(hostile: dict[str, Any], tmp_path: Path) -> None:
    repo = _registry(tmp_path)
    r = _mlflow(repo, _uri(hostile, "future"))
    assert r.code in (0, 1) and "internal error" not in r.err, r.err
    assert _mreg(repo, "resolve", "m@v1").code == 0
    assert _mreg(repo, "check").code == 0


def test_a_secret_looking_param_name_can_be_allowed(hostile: dict[str, Any], tmp_path: Path) -> None:
    repo = _registry(tmp_path)
    r = _mlflow(repo, _uri(hostile, "keyname"), "--allow-secret-like", "sort_key")
    assert r.code == 0, r.err
    assert _mreg(repo, "resolve", "m@v1").code == 0


def test_credentials_in_the_tracking_uri_never_reach_output_or_manifests(
    hostile: dict[str, Any], tmp_path: Path
) -> None:
    """Holds: a sqlite URI with a query that looks like a token is named without it."""
    repo = _registry(tmp_path)
    uri = _uri(hostile, "nan") + "?access_token=s3cr3t-t0ken"
    r = _mlflow(repo, uri)
    assert "s3cr3t-t0ken" not in r.out + r.err
    assert "s3cr3t-t0ken" not in "".join(_manifests(repo, "m").values())


def test_a_remote_server_cannot_make_the_importer_read_its_own_files(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    secret = tmp_path / "home" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(SECRET)
    where = secret.parent.as_uri()
    answers = {
        "registered-models/search": {"registered_models": [{"name": "m"}]},
        "registered-models/get": {"registered_model": {"name": "m"}},
        "model-versions/search": {
            "model_versions": [
                {
                    "name": "m",
                    "version": "1",
                    "creation_timestamp": 1600000000000,
                    "last_updated_timestamp": 1600000000000,
                    "current_stage": "None",
                    "source": where,
                    "status": "READY",
                }
            ]
        },
        "model-versions/get-download-uri": {"artifact_uri": where},
    }

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            import json

            path = self.path.split("?")[0]
            body = next((a for k, a in answers.items() if path.endswith(k)), None)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        repo = _registry(tmp_path)
        r = _mlflow(repo, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert not _store_holds(repo, SECRET)
    assert "id_rsa" not in "".join(_manifests(repo, "m").values())
    assert r.code == 1, r.out + r.err


# --------------------------------------------------------------------------- GTO


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    ).stdout


def _gto(repo: Path, *args: str) -> None:
    proc = subprocess.run([GTO, *args], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _gto_repo(path: Path, annotation: str, files: dict[str, bytes]) -> Path:
    from testing.gitutil import make_registry

    repo = make_registry(path)
    (repo / "dvc.yaml").write_text(annotation)
    for rel, data in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "models")
    return repo


def _gto_import(repo: Path, *extra: str) -> Any:
    from testing.gitutil import run_mreg

    return run_mreg("import", "gto", *extra, cwd=repo, timeout=300)


def test_two_gto_artifacts_that_map_to_one_model_are_reported_never_mixed(tmp_path: Path) -> None:
    annotation = (
        "artifacts:\n  fraud:\n    path: good\n    type: model\n  Fraud:\n    path: evil\n    type: model\n"
    )
    repo = _gto_repo(tmp_path / "repo", annotation, {"good/w": b"good", "evil/w": b"evil"})
    _gto(repo, "register", "fraud", "--version", "v1.0.0")
    _gto(repo, "assign", "fraud", "--version", "v1.0.0", "--stage", "staging")
    _gto(repo, "register", "Fraud", "--version", "v1.0.0")
    first = _gto_import(repo)
    second = _gto_import(repo)
    assert _mreg(repo, "check").code == 0
    pulled = tmp_path / "pulled"
    got = _mreg(repo, "pull", "fraud@staging", "-o", str(pulled))
    assert got.code != 0 or (pulled / "w").read_bytes() == b"good"  # never the other artifact's bytes
    assert first.code == 1 and "Fraud" in first.err and "'fraud'" in first.err, first.err
    assert second.code == 1


def test_two_gto_stages_that_map_to_one_alias_are_reported(tmp_path: Path) -> None:
    repo = _gto_repo(tmp_path / "repo", "artifacts:\n  fraud:\n    path: m\n    type: model\n", {"m/w": b"1"})
    _gto(repo, "register", "fraud", "--version", "v1.0.0")
    (repo / "m/w").write_bytes(b"2")
    _git(repo, "commit", "-qam", "2")
    _gto(repo, "register", "fraud", "--version", "v1.0.1")
    _gto(repo, "assign", "fraud", "--version", "v1.0.0", "--stage", "prod_eu")
    _gto(repo, "assign", "fraud", "--version", "v1.0.1", "--stage", "prod-eu")
    r = _gto_import(repo)
    assert r.code == 1 and "prod_eu" in r.err and "prod-eu" in r.err, r.err


def test_a_gto_tag_past_year_9999_is_one_clean_line(tmp_path: Path) -> None:
    repo = _gto_repo(tmp_path / "repo", "artifacts:\n  fraud:\n    path: m\n    type: model\n", {"m/w": b"1"})
    _gto(repo, "register", "fraud", "--version", "v1.0.0")
    _git(
        repo,
        "tag",
        "-a",
        "fraud#dev#9",
        "-m",
        "Assigning stage dev to artifact fraud version v1.0.0",
        env={"GIT_COMMITTER_DATE": "@253402300801 +0000"},
    )
    r = _gto_import(repo)
    assert r.code in (1, 2) and "internal error" not in r.err, r.err


def test_a_gto_stage_that_maps_to_a_protected_alias_is_never_tagged_unreviewed(tmp_path: Path) -> None:
    """Holds: a stage `Production` (mapped to the protected `production`) in a registry with a remote
    becomes one proposal, no tag; --no-review there is refused before anything is written."""
    from testing.gitutil import publish_registry, refs

    repo = _gto_repo(tmp_path / "repo", "artifacts:\n  fraud:\n    path: m\n    type: model\n", {"m/w": b"1"})
    _gto(repo, "register", "fraud", "--version", "v1.0.0")
    _gto(repo, "assign", "fraud", "--version", "v1.0.0", "--stage", "Production")
    publish_registry(repo, tmp_path / "origin.git")
    before = refs(repo, "refs/tags/mreg/")
    refused = _gto_import(repo, "--no-review")
    assert refused.code == 2 and "allow_unreviewed" in refused.err
    r = _gto_import(repo)
    assert r.code == 0, r.err
    assert "mreg/import/gto" in r.out
    assert not [t for t in refs(repo, "refs/tags/mreg/") if "/production/" in t]
    assert _mreg(repo, "resolve", "fraud@production").code == 3
    assert set(before) <= set(refs(repo, "refs/tags/mreg/"))
    assert _mreg(repo, "check").code == 0


def test_gto_dry_run_lists_versions_without_an_annotated_path(tmp_path: Path) -> None:
    from testing.gitutil import make_registry

    repo = make_registry(tmp_path / "repo")
    (repo / "m.bin").write_bytes(b"1")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "no annotation")
    _gto(repo, "register", "fraud", "--version", "v1.0.0")
    plan = _gto_import(repo, "--dry-run")
    assert plan.code == 1 and "fraud" in plan.err, plan.out


def test_a_planted_version_with_import_labels_is_not_taken_for_the_foreign_one(tmp_path: Path) -> None:
    from mreg import Registry

    repo = _gto_repo(
        tmp_path / "repo", "artifacts:\n  fraud:\n    path: m\n    type: model\n", {"m/w": b"real"}
    )
    _gto(repo, "register", "fraud", "--version", "v1.0.0")
    _gto(repo, "assign", "fraud", "--version", "v1.0.0", "--stage", "production")
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "w").write_bytes(b"evil")
    Registry.open(repo).register(
        "fraud", [planted], labels={"import.source": "GTO", "import.id": "fraud@v1.0.0"}
    )
    r = _gto_import(repo, "--no-review")
    pulled = tmp_path / "pulled"
    got = _mreg(repo, "pull", "fraud@production", "-o", str(pulled))
    assert got.code != 0 or (pulled / "w").read_bytes() == b"real"
    assert r.code == 1 and "fraud v1" in r.err, r.out + r.err


def test_a_run_killed_between_the_unreviewed_pin_and_its_tag_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mreg.ops.import_ as imp
    from mreg import Registry
    from mreg.integrations.foreign import ForeignMove, ForeignRegistry, ForeignVersion
    from testing.gitutil import make_registry

    def fetch(dest: Path) -> Path:
        (dest / "w").write_bytes(b"x")
        return dest

    version = ForeignVersion(
        model="m", version=1, key="m/1", created_at="2020-01-01T00:00:00Z", created_by="alice",
        message=None, params={}, metrics={}, source=None, data=[],
        labels={"import.source": "MLflow", "import.id": "m/1"}, fetch=fetch,
    )  # fmt: skip
    foreign = ForeignRegistry(
        "MLflow", [version], [ForeignMove("m", "production", 1, 1.6e9, "alice")], [], history=False
    )
    repo = make_registry(tmp_path / "repo")

    class Killed(BaseException):
        pass

    def killed(*args: Any, **kwargs: Any) -> None:
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(imp, "_write", killed)
        with pytest.raises(Killed):
            imp.run_import(Registry.open(repo)._ctx, foreign, no_review=True)
    imp.run_import(Registry.open(repo)._ctx, foreign, no_review=True)  # the re-run
    assert _mreg(repo, "resolve", "m@production").out.strip() == "m@v1"
    assert _mreg(repo, "check").code == 0


if __name__ == "__main__":
    _build(Path(sys.argv[1]), Path(sys.argv[2]))
