"""Crafted registry content (issue 7), as it could arrive in a pull request to mreg/registry.

Each case writes a manifest straight onto the branch with git plumbing (no mreg involved), then
asks mreg to read it: `resolve`, `show` and `pull` refuse with exit 5 and one precise line, `check`
rejects it with exit 1 naming the file, and `pull` never writes a byte outside its destination.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from mreg.errors import IntegrityError
from mreg.git.repo import GitRepo
from mreg.layout import REGISTRY_REF
from mreg.manifest import artifact_set_digest
from mreg.registry import Registry
from testing.gitutil import run_mreg


@pytest.fixture
def base(repo: Path, tmp_path: Path) -> tuple[Path, dict]:  # type: ignore[type-arg]
    """A registry with fraud@v1 (two files, one in a subdirectory); returns the repo and v1's manifest."""
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "w.bin").write_bytes(b"weights")
    (model / "sub" / "x.bin").write_bytes(b"sub-weights")
    reg = Registry.open(repo)
    reg.register("fraud", [model])
    return repo, dict(reg.resolve("fraud@v1").manifest)


def commit_blob(repo: Path, path: str, data: bytes) -> None:
    """Put `data` at `path` on mreg/registry in one commit: what merging a crafted PR would do."""
    g = GitRepo.discover(repo)
    tip = g.rev_parse(REGISTRY_REF)
    tree = g.write_tree(g.rev_parse(f"{tip}^{{tree}}"), {path: data})
    commit = g.commit_tree(tree, [tip], "crafted\n")
    assert g.update_ref(REGISTRY_REF, commit, tip)


def crafted(manifest: dict, **changes: object) -> bytes:  # type: ignore[type-arg]
    doc = {**manifest, "version": 2, **changes}
    if "artifacts" in changes and "digest" not in changes:
        doc["digest"] = artifact_set_digest(
            doc["artifacts"]
        )  # a careful attacker keeps the digest consistent
    return yaml.safe_dump(doc, sort_keys=False).encode()


def tree_outside(root: Path, dest: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if dest not in p.parents and p != dest}


def _art(manifest: dict, path: str) -> dict:  # type: ignore[type-arg]
    return {**manifest["artifacts"][0], "path": path}


CASES = {
    "absolute path": (lambda m: crafted(m, artifacts=[_art(m, "/tmp/mreg-evil.bin")]), "artifacts.0.path"),
    "climbs out": (lambda m: crafted(m, artifacts=[_art(m, "../../x.bin")]), "artifacts.0.path"),
    "climbs out in the middle": (
        lambda m: crafted(m, artifacts=[_art(m, "a/../../x.bin")]),
        "artifacts.0.path",
    ),
    "backslash path": (lambda m: crafted(m, artifacts=[_art(m, "..\\..\\x.bin")]), "artifacts.0.path"),
    "duplicate path": (
        lambda m: crafted(m, artifacts=[_art(m, "w.bin"), _art(m, "w.bin")]),
        "duplicate path",
    ),
    "unknown schema": (lambda m: crafted(m, schema="mreg/manifest/v9"), "mreg/manifest/v9"),
    "not a manifest schema": (lambda m: crafted(m, schema="evil/v1"), "schema"),
    "python object tag": (
        lambda m: crafted(m).replace(
            b"message: null", b"message: !!python/object/apply:os.system ['touch pwned']"
        ),
        "invalid YAML",
    ),
    "digest does not match": (lambda m: crafted(m, digest="sha256:" + "0" * 64), "digest"),
    "wrong version in file": (lambda m: crafted(m, version=7), "fraud@v7"),
    "deeply nested params": (
        lambda m: crafted(m).replace(b"params: {}", b"params: " + b"[" * 100_000 + b"]" * 100_000),
        "nested more than 100 levels deep",
    ),
    "alias bomb": (
        lambda m: crafted(m).replace(
            b"labels: {}",
            b"labels:\n"
            + "".join(
                f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else "x"] * 10) + "]\n" for i in range(9)
            ).encode(),
        ),
        "expands to more than",
    ),
    "enormous (20 MB)": (
        lambda m: crafted(m).replace(b"message: null", b"message: " + b"x" * 20_000_000),
        "more than the 8 MiB",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_manifest_is_refused_precisely(case: str, base: tuple[Path, dict], tmp_path: Path) -> None:  # type: ignore[type-arg]
    repo, v1 = base
    make, expected = CASES[case]
    commit_blob(repo, "models/fraud/versions/2.yaml", make(v1))
    dest = tmp_path / "out"
    before = tree_outside(tmp_path, dest)
    where = "mreg/registry:models/fraud/versions/2.yaml: "
    for args in (["show", "fraud@v2"], ["pull", "fraud@v2", "-o", str(dest)]):  # through the CLI
        r = run_mreg(*args, cwd=repo)
        assert r.code == 5, (args, r.code, r.out, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.err, r.err
        assert lines[0].startswith(f"mreg: error: {where}") and expected in lines[0], lines[0]
    reg = Registry.open(repo)
    for call in (
        lambda: reg.resolve("fraud"),
        lambda: reg.resolve("fraud@v2"),
    ):  # and the API (same code as `resolve`)
        with pytest.raises(IntegrityError) as exc:
            call()
        assert (
            exc.value.exit_code == 5 and exc.value.message.startswith(where) and expected in exc.value.message
        )
    assert not dest.exists() or not any(dest.iterdir())
    assert tree_outside(tmp_path, dest) == before and not (repo / "pwned").exists()
    assert not Path("/tmp/mreg-evil.bin").exists()
    assert reg.resolve("fraud@v1").version == 1  # one bad manifest does not take the registry down
    r = run_mreg("check", cwd=repo, timeout=60)
    assert r.code == 1, (r.code, r.out, r.err)
    assert "mreg/registry:models/fraud/versions/2.yaml" in r.out and "Traceback" not in r.err


@pytest.mark.parametrize(
    "target_name", ["outside", "out-evil"]
)  # "out-evil": a sibling whose name starts like dest
def test_pull_through_a_symlink_in_the_destination_stays_inside(
    base: tuple[Path, dict], tmp_path: Path, target_name: str
) -> None:  # type: ignore[type-arg]
    repo, _ = base
    dest = tmp_path / "out"
    outside = tmp_path / target_name
    outside.mkdir()
    dest.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)  # v1 has sub/x.bin
    r = run_mreg("pull", "fraud@v1", "-o", str(dest), "--force", cwd=repo)
    # the version is written into a fresh directory beside DEST that then replaces it whole (issue 12):
    # the symlink is gone with the old contents, and nothing was written through it
    assert r.code == 0, (r.code, r.err)
    assert list(outside.iterdir()) == [], "pull wrote through a symlink"
    assert not (dest / "sub").is_symlink() and (dest / "sub" / "x.bin").is_file()


def test_a_symlinked_file_in_the_destination_is_replaced_not_followed(
    base: tuple[Path, dict], tmp_path: Path
) -> None:  # type: ignore[type-arg]
    repo, _ = base
    dest = tmp_path / "out"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (dest / "w.bin").symlink_to(victim)
    r = run_mreg("pull", "fraud@v1", "-o", str(dest), "--force", cwd=repo)
    assert r.code == 0, r.err
    assert victim.read_text() == "precious"
    assert not (dest / "w.bin").is_symlink() and (dest / "w.bin").read_bytes() == b"weights"


def test_a_symlink_committed_into_the_registry_branch_is_not_a_manifest(base: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    repo, _ = base
    g = GitRepo.discover(repo)
    tip = g.rev_parse(REGISTRY_REF)
    versions_tree = g.rev_parse(f"{tip}:models/fraud/versions")
    entries = subprocess.run(
        ["git", "ls-tree", versions_tree], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    link = g.write_blob(b"/etc/passwd")
    new_versions = g.out("mktree", input=(entries + f"120000 blob {link}\t2.yaml\n").encode())
    fraud = g.out("mktree", input=f"040000 tree {new_versions}\tversions\n".encode())
    models = g.out("mktree", input=f"040000 tree {fraud}\tfraud\n".encode())
    root = g.out("mktree", input=f"040000 tree {models}\tmodels\n".encode())
    commit = g.commit_tree(root, [tip], "crafted symlink\n")
    assert g.update_ref(REGISTRY_REF, commit, tip)
    r = run_mreg("resolve", "fraud@v2", cwd=repo)
    assert r.code in (3, 5) and "Traceback" not in r.err and len(r.err.strip().splitlines()) <= 2, r.err
    assert "root:" not in r.out + r.err
    r = run_mreg("check", cwd=repo)
    assert r.code == 1 and "2.yaml" in r.out, (r.out, r.err)
