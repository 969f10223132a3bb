"""The per-clone lineage index (mreg.cache.lineage): what it keeps, and that damage costs only time."""

from __future__ import annotations

from pathlib import Path

from mreg.cache.lineage import LineageIndex

A, B, C = "a" * 40, "b" * 40, "c" * 64


def test_entries_round_trip_and_later_lines_win(tmp_path: Path) -> None:
    index = LineageIndex(tmp_path)
    assert index.load().all() == {}
    index.add({A: {"k": "m", "m": "fraud", "v": 1, "d": "sha256:x", "p": None, "data": []}})
    index.add(
        {
            B: {"k": "x", "why": "bad"},
            A: {"k": "m", "m": "fraud", "v": 1, "d": "sha256:x", "p": "base@v2", "data": []},
        }
    )
    index.add({C: {"k": "e", "m": "fraud", "v": 1, "vd": "sha256:x", "ds": {"uri": "s3://b/k\u00e9"}}})
    entries = index.load()
    assert entries.get(A) == {"k": "m", "m": "fraud", "v": 1, "d": "sha256:x", "p": "base@v2", "data": []}
    assert entries.all() == {
        A: {"k": "m", "m": "fraud", "v": 1, "d": "sha256:x", "p": "base@v2", "data": []},
        B: {"k": "x", "why": "bad"},
        C: {"k": "e", "m": "fraud", "v": 1, "vd": "sha256:x", "ds": {"uri": "s3://b/k\u00e9"}},
    }
    assert entries.containing("s3://b/k\u00e9") == {C}  # as JSON wrote it (escaped)
    index.add({A: {"k": "m", "m": "fraud", "v": "1"}})  # not what mreg writes: no entry, not a crash
    assert index.load().get(A) is None
    assert entries.containing("base@v2") == {A} and entries.containing('{"k":"x"', raw=True) == {B}


def test_a_damaged_line_is_dropped_and_the_file_rewritten_without_it(tmp_path: Path) -> None:
    index = LineageIndex(tmp_path)
    index.add({A: {"k": "e", "m": "fraud", "v": 1, "vd": "sha256:x", "ds": {}}})
    with open(index.path, "a") as f:
        f.write('["' + B + '", {"k": "m", "m"')  # a crash mid-append
        f.write(
            '\n[1, 2]\n["' + C + '",{"k":"?"}]\n["' + B + '",{"k":"m",]\n'
        )  # the right look, the wrong shape
    entries = index.load()
    assert index.path.read_text().count("\n") == 2  # the lines cut short are gone from the file
    assert list(entries.all()) == [A] and entries.get(B) is None and entries.get(C) is None
    assert index.load().all() == entries.all()


def test_an_unwritable_directory_only_costs_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    index = LineageIndex(blocker / "sub")  # its parent is a file: nothing can be created there
    index.add({A: {"k": "x", "why": "bad"}})
    assert index.load().all() == {}
