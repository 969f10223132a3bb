"""kill -9 in the middle of a write (issue 7): nothing lost, nothing half-visible, a rerun completes it.

Each trial starts the real `mreg` in its own process group, SIGKILLs the whole group (mreg and the
git processes it is running) after a random delay over the command's measured run time (see
kill_delay), then checks the registry as a user would find it:

- `verify` passes: every object a manifest names is in the store and hashes to its digest;
- every manifest on mreg/registry parses and names only objects the store has;
- every tag under refs/tags/mreg points at an existing tag object whose commit exists;
- `git fsck` reports no error; no ref lock file is left behind;
- running the same command again completes it, and versions (and tag seqs) stay gapless.

A seeded random.Random makes every delay reproducible; the figures are printed (pytest -s) and
recorded in docs/security.md. Environment knob: MREG_CRASH_SEED.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from mreg.git import tags as alias_tags
from mreg.git.repo import GitRepo
from mreg.layout import ALIASES_REF, REGISTRY_REF
from mreg.manifest import load_yaml
from mreg.registry import Registry
from testing.gitutil import MREG, make_bare, make_repo, refs, run_mreg

pytestmark = pytest.mark.slow  # every test here runs a command many times, killing it at random points

SEED = int(os.environ.get("MREG_CRASH_SEED", "20260107"))
FIGURES: Counter[str] = Counter()


# -- helpers ---------------------------------------------------------------------------------------
def git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def timed_run(args: list[str], cwd: Path) -> float:
    t = time.monotonic()
    r = subprocess.run([*MREG, *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - t


def run_and_kill(args: list[str], cwd: Path, delay: float) -> str:
    """Start mreg in its own process group and SIGKILL the group after `delay` seconds.

    Returns "killed" or "finished" (the command completed before the kill landed)."""
    proc = subprocess.Popen(
        [*MREG, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    time.sleep(delay)
    outcome = "finished" if proc.poll() is not None else "killed"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # mreg and every git it runs: the whole command dies at once
    _, err = proc.communicate()
    if outcome == "finished":
        assert proc.returncode == 0, err.decode()
    return outcome


def kill_delay(rng: random.Random, full: float) -> float:
    """Uniform over the whole run half the time; otherwise over its last 40 %, where the writes are
    (the first half of a run is mostly interpreter start-up)."""
    if rng.random() < 0.5:
        return rng.uniform(0, full * 1.1)
    return rng.uniform(full * 0.6, full * 1.05)


def stale_locks(git_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(git_dir)) for p in git_dir.rglob("*.lock"))


def clear_remote_crash(bare: Path | None, repo: Path, rerun: list[str], outcomes: Counter[str]) -> None:
    """A file:// remote's receive-pack runs in mreg's process group, so the kill can take it too and
    leave a ref lock in the bare repository (a real server's receive-pack outlives its client). mreg
    must then refuse with exit 6 naming the lock, change nothing, and complete once it is removed."""
    if bare is None or not stale_locks(bare):
        return
    outcomes["remote-lock-left"] += 1
    before_local, before_remote = refs(repo), refs(bare)
    r = run_mreg(*rerun, cwd=repo, env={"MREG_MAX_ATTEMPTS": "40"})
    assert r.code == 6, (r.code, r.err)
    assert (
        r.err.startswith("mreg: error: remote 'origin' cannot lock refs/") and ".lock exists there" in r.err
    ), r.err
    assert refs(bare) == before_remote and {k: v for k, v in refs(repo).items() if "/remotes/" not in k} == {
        k: v for k, v in before_local.items() if "/remotes/" not in k
    }
    for lock in stale_locks(bare):  # what git's own message tells the user to do
        (bare / lock).unlink()


def clear_local_crash(repo: Path, rerun: list[str], outcomes: Counter[str]) -> None:
    """A SIGKILL while git updates a ref in this clone (a fetch bringing a tag, an update-ref) leaves
    git's own lock file: no program can remove a lock as it dies. Later (the lock older than any
    live git would hold one), mreg must refuse with exit 4 naming the lock and saying a crashed git
    left it, change nothing, and complete once it is removed — never guess it away, never hang."""
    git_dir = repo / ".git"
    locks = stale_locks(git_dir)
    if not locks:
        return
    outcomes["local-lock-left"] += 1
    old = time.time() - 60
    for lock in locks:  # a minute later, as when the user comes back to it
        os.utime(git_dir / lock, (old, old))
    before = {k: v for k, v in refs(repo).items() if "/remotes/" not in k}
    r = run_mreg(*rerun, cwd=repo, env={"MREG_MAX_ATTEMPTS": "40"})
    assert r.code == 4, (r.code, r.err)
    assert ".lock exists and is" in r.err and "a git process that crashed left it" in r.err, r.err
    assert any(lock in r.err for lock in locks), r.err
    assert {k: v for k, v in refs(repo).items() if "/remotes/" not in k} == before
    for lock in locks:  # what the message tells the user to do
        (git_dir / lock).unlink()


def assert_intact(repo: Path, *, check_policy: bool = True) -> None:
    """Everything a user could observe after a crash is whole (see the module docstring)."""
    git_dir = repo / ".git"
    assert stale_locks(git_dir) == [], "a lock file was left behind"
    reg = Registry.open(repo, offline=True)
    # 1. verify: every referenced object present and intact
    result = reg.verify()
    assert result.ok, (result.missing, result.corrupt)
    # 2. every manifest on the registry branch parses and names only objects the store holds
    tip = git(repo, "rev-parse", REGISTRY_REF).strip()
    for path in git(repo, "ls-tree", "-r", "--name-only", tip, "models").split():
        doc = load_yaml(git(repo, "cat-file", "blob", f"{tip}:{path}"), where=path)
        digests = [a["digest"] for a in doc["artifacts"]] + [doc["environment"]["packages"]]
        for d in digests:
            assert reg.store.exists(d), f"{path} names missing object {d}"
    # 3. every alias tag points at something that exists, and describes itself
    rows = git(
        repo, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", "refs/tags/mreg/"
    ).splitlines()
    for row in rows:
        name, tag_oid, commit = row.split(" ")
        assert commit, f"{name} is not an annotated tag"
        for oid in (tag_oid, commit):
            assert subprocess.run(["git", "cat-file", "-e", oid], cwd=repo).returncode == 0, (
                f"{name} points at nothing"
            )
    # 4. git fsck: no errors (dangling objects from a killed write are expected and harmless)
    fsck = subprocess.run(
        ["git", "fsck", "--no-progress", "--no-dangling"], cwd=repo, capture_output=True, text=True
    )
    assert fsck.returncode == 0 and "error" not in fsck.stderr.lower(), fsck.stderr
    # 5. mreg check passes (schemas, immutability, governed aliases against tags)
    if check_policy:
        report = reg.check()
        assert report.ok, [str(p) for p in report.problems]


def versions(repo: Path, model: str) -> list[int]:
    out = git(repo, "ls-tree", "--name-only", f"{REGISTRY_REF}:models/{model}/versions", check=False)
    return sorted(int(n.removesuffix(".yaml")) for n in out.split())


def tag_seqs(repo: Path, model: str, alias: str) -> list[int]:
    out = git(repo, "for-each-ref", "--format=%(refname)", f"refs/tags/mreg/{model}/{alias}/")
    return sorted(int(r.rsplit("/", 1)[1]) for r in out.split())


def artifact(tmp: Path, i: int) -> Path:
    p = tmp / "files" / f"w{i}.bin"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(os.urandom(256) + str(i).encode())
    return p


def _report(name: str, outcomes: Counter[str], extra: str = "") -> None:
    FIGURES.update({f"{name}:{k}": v for k, v in outcomes.items()})
    print(f"\n[crash] {name}: {sum(outcomes.values())} trials, {dict(outcomes)} {extra}".rstrip())


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def remote_repo(tmp_path: Path) -> tuple[Path, Path]:
    bare = tmp_path / "remote.git"
    make_bare(bare).close()
    path = tmp_path / "repo"
    make_repo(path).close()  # GitPython keeps cat-file processes open until closed
    git(path, "remote", "add", "origin", str(bare))
    git(path, "push", "-q", "origin", "main")
    assert run_mreg("init", cwd=path).code == 0
    return path, bare


# -- register --------------------------------------------------------------------------------------
@pytest.mark.parametrize("where,trials", [("local", 16), ("remote", 10)])
def test_register_killed_at_random_points(
    where: str, trials: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-register-{where}")
    if where == "local":
        repo, bare = request.getfixturevalue("repo"), None
    else:
        repo, bare = request.getfixturevalue("remote_repo")
    full = timed_run(["register", "m", str(artifact(tmp_path, 0))], repo)
    expected = 1
    outcomes: Counter[str] = Counter()
    for i in range(1, trials + 1):
        f = artifact(tmp_path, i)
        outcome = run_and_kill(["register", "m", str(f)], repo, kill_delay(rng, full))
        # With a remote the remote is the record: a run killed after its push but before it moved the
        # local ref has landed, and this clone catches up on its next fetch.
        record = bare or repo
        landed = versions(record, "m") == list(range(1, expected + 2))
        if outcome == "killed":
            outcome = "killed-after-commit" if landed else "killed-before-commit"
            if landed and bare is not None and versions(repo, "m") != versions(bare, "m"):
                outcome = "killed-after-push-before-local-ref"
        outcomes[outcome] += 1
        expected += 1 if landed else 0
        assert versions(record, "m") == list(range(1, expected + 1)), (
            f"trial {i}: a version was lost or duplicated"
        )
        clear_remote_crash(bare, repo, ["register", "m", str(f)], outcomes)
        clear_local_crash(repo, ["register", "m", str(f)], outcomes)
        assert versions(repo, "m") in (list(range(1, expected + 1)), list(range(1, expected)))
        assert_intact(repo)
        # Running the command again completes it.
        result = Registry.open(repo).register("m", [f])
        expected += 1
        assert result.version == expected
        assert versions(repo, "m") == list(range(1, expected + 1))
        if bare is not None:  # the remote has every version too, and a tag-free history
            assert versions(bare, "m") == list(range(1, expected + 1))
    assert_intact(repo)
    assert run_mreg("verify", cwd=repo).code == 0
    _report(f"register-{where}", outcomes, f"delay 0-{full * 1.1:.2f}s")


# -- promote ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("where,trials", [("local", 9), ("remote", 9)])
def test_promote_killed_at_random_points(
    where: str, trials: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-promote-{where}")
    if where == "local":
        repo, bare = request.getfixturevalue("repo"), None
    else:
        repo, bare = request.getfixturevalue("remote_repo")
    reg = Registry.open(repo)
    for i in range(3):
        reg.register("m", [artifact(tmp_path, i)])
    full = timed_run(["promote", "m@v1", "--to", "staging"], repo)
    seqs = 1
    outcomes: Counter[str] = Counter()
    for i in range(trials):
        version = 2 + i % 2  # alternate v2, v3, so every trial is a real move
        outcome = run_and_kill(["promote", f"m@v{version}", "--to", "staging"], repo, kill_delay(rng, full))
        landed = tag_seqs(bare or repo, "m", "staging") == list(range(1, seqs + 2))
        if outcome == "killed":
            outcome = "killed-after-tag" if landed else "killed-before-tag"
        outcomes[outcome] += 1
        seqs += 1 if landed else 0
        assert tag_seqs(bare or repo, "m", "staging") == list(range(1, seqs + 1)), (
            f"trial {i}: tag seqs not gapless"
        )
        clear_local_crash(repo, ["promote", f"m@v{version}", "--to", "staging"], outcomes)
        assert_intact(repo)
        if bare is not None:
            # Never a local alias move the remote lacks (the tag is published before it is named
            # here), and every tag the remote has points at a commit the remote has.
            local_tags = set(git(repo, "tag", "-l", "mreg/*").split())
            remote_tags = set(git(bare, "tag", "-l", "mreg/*").split())
            assert local_tags <= remote_tags, (
                f"trial {i}: unpublished local tag(s) {local_tags - remote_tags}"
            )
            if remote_tags - local_tags:
                outcomes["published-not-yet-fetched"] += 1
            for name in remote_tags:
                commit = git(bare, "rev-parse", f"{name}^{{commit}}").strip()
                assert subprocess.run(["git", "cat-file", "-e", commit], cwd=bare).returncode == 0
        clear_remote_crash(bare, repo, ["promote", f"m@v{version}", "--to", "staging"], outcomes)
        move = Registry.open(repo).promote(f"m@v{version}", "staging")  # the rerun completes the move
        seqs = int(move.tag.rsplit("/", 1)[1])
        assert Registry.open(repo).resolve("m@staging").version == version
        if bare is not None:
            remote_events = alias_tags.current(
                alias_tags.read_events(GitRepo(bare, None), "m", "staging"), "staging"
            )
            assert remote_events is not None and remote_events.version == version
    assert_intact(repo)
    assert run_mreg("verify", cwd=repo).code == 0
    _report(f"promote-{where}", outcomes, f"delay 0-{full * 1.1:.2f}s")


# -- apply -----------------------------------------------------------------------------------------
def _ask_for(repo: Path, model: str, alias: str, version: int) -> None:
    """Commit `models/<model>.yaml` asking for alias=version onto mreg/aliases, as a merged PR would."""
    g = GitRepo.discover(repo)
    base = g.rev_parse(ALIASES_REF)
    tree = g.write_tree(
        g.rev_parse(f"{base}^{{tree}}"),
        {
            f"models/{model}.yaml": f"schema: mreg/model/v1\naliases:\n  {alias}: {version}\n".encode(),
        },
    )
    commit = g.commit_tree(tree, [base], f"set {model} {alias} to v{version}\n")
    assert g.update_ref(ALIASES_REF, commit, base)


def test_apply_killed_at_random_points(repo: Path, tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-apply")
    reg = Registry.open(repo)
    for i in range(3):
        reg.register("m", [artifact(tmp_path, i)])
    _ask_for(repo, "m", "production", 1)
    full = timed_run(["apply"], repo)
    outcomes: Counter[str] = Counter()
    for i in range(10):
        version = 2 + i % 2
        _ask_for(repo, "m", "production", version)
        before = tag_seqs(repo, "m", "production")
        outcome = run_and_kill(["apply"], repo, kill_delay(rng, full))
        after = tag_seqs(repo, "m", "production")
        if outcome == "killed":
            outcome = "killed-after-tag" if after != before else "killed-before-tag"
        outcomes[outcome] += 1
        assert after in (before, [*before, len(before) + 1])
        clear_local_crash(repo, ["apply"], outcomes)
        assert_intact(repo, check_policy=False)  # a pending (merged, not yet applied) change is not damage
        Registry.open(repo).apply()  # the rerun completes it; nothing twice
        seqs = tag_seqs(repo, "m", "production")
        assert seqs == list(range(1, len(before) + 2)), "apply created a tag twice or skipped a seq"
        assert Registry.open(repo).resolve("m@production").version == version
    assert_intact(repo)
    _report("apply-local", outcomes, f"delay 0-{full * 1.1:.2f}s")


# -- a git remote that disappears mid-push ----------------------------------------------------------
@pytest.mark.parametrize("command", ["register", "promote"])
def test_remote_vanishing_mid_command(command: str, remote_repo: tuple[Path, Path], tmp_path: Path) -> None:
    repo, bare = remote_repo
    rng = random.Random(f"{SEED}-vanish-{command}")
    reg = Registry.open(repo)
    for i in range(3):
        reg.register("m", [artifact(tmp_path, 100 + i)])
    args = (
        (lambda i: ["register", "m", str(artifact(tmp_path, i))])
        if command == "register"
        else (lambda i: ["promote", f"m@v{1 + i % 3}", "--to", "staging"])
    )
    full = timed_run(args(0), repo)
    away = tmp_path / "remote-away.git"
    codes: Counter[str] = Counter()
    for i in range(1, 5):
        proc = subprocess.Popen(
            [*MREG, *args(i)], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(kill_delay(rng, full))
        shutil.move(bare, away)  # the remote is gone
        _, err = proc.communicate(timeout=60)
        shutil.move(away, bare)  # and back
        codes[f"exit {proc.returncode}"] += 1
        assert proc.returncode in (0, 6), err
        assert "Traceback" not in err
        if proc.returncode == 6:
            assert len(err.strip().splitlines()) <= 2 and err.startswith("mreg: error: cannot "), err
        assert_intact(repo)
        # Nothing local claims what the remote does not have: every local mreg tag is on the remote.
        local_tags = set(git(repo, "tag", "-l", "mreg/*").split())
        remote_tags = set(git(bare, "tag", "-l", "mreg/*").split())
        assert local_tags <= remote_tags, local_tags - remote_tags
        # The rerun completes it; the remote's versions stay gapless.
        r = run_mreg(*args(i), cwd=repo)
        assert r.code == 0, r.err
        n = versions(bare, "m")
        assert n == list(range(1, len(n) + 1))
        assert versions(repo, "m") == n
    _report(f"remote-vanishes-{command}", codes, f"delay 0-{full * 1.1:.2f}s")


# -- two writers in one clone, no remote ------------------------------------------------------------
def test_six_concurrent_registers_in_one_clone_get_1_to_6(repo: Path, tmp_path: Path) -> None:
    files = [artifact(tmp_path, i) for i in range(6)]
    procs = [
        subprocess.Popen(
            [*MREG, "register", "m", str(f)],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    assert all(code == 0 for _, _, code in results), [err for _, err, _ in results]
    printed = sorted(int(out.strip().rsplit("@v", 1)[1]) for out, _, _ in results)
    assert printed == [1, 2, 3, 4, 5, 6]
    assert versions(repo, "m") == [1, 2, 3, 4, 5, 6]
    reg = Registry.open(repo, offline=True)
    digests = {reg.resolve(f"m@v{v}").digest for v in range(1, 7)}
    assert len(digests) == 6, "a registration was overwritten by another"
    # one commit per version, linear history: nobody overwrote anybody's commit
    assert len(git(repo, "rev-list", REGISTRY_REF).split()) == 1 + 6  # the init commit + six registrations
    assert_intact(repo)
