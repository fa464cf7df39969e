"""Class mode's poll store (lab/service/poll.py): one vote per session and study, a changed
vote moves, two stores on one file (two server replicas) share the tally, and a location it
cannot write falls back to an in-memory tally that says it counts only this server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lab.service import poll
from lab.service.poll import PollStore

ROOT = Path(__file__).resolve().parent.parent


def test_one_vote_per_session_and_study(tmp_path):
    store = PollStore(tmp_path / "poll.sqlite")
    assert store.shared and not store.note
    store.vote("tbptt", "tab-a", "50")
    store.vote("tbptt", "tab-a", "50")  # the same commit again: still one vote
    store.vote("tbptt", "tab-b", "5")
    store.vote("hidden_size", "tab-a", "128")  # another study: its own vote
    assert store.tally("tbptt") == {"5": 1, "50": 1}
    assert store.tallies() == {"hidden_size": {"128": 1}, "tbptt": {"5": 1, "50": 1}}
    assert store.tally("reservoir") == {}


def test_a_changed_prediction_moves_its_vote(tmp_path):
    store = PollStore(tmp_path / "poll.sqlite")
    for voter in ("a", "b", "c"):
        store.vote("clipping", voter, "5.0")
    store.vote("clipping", "b", "50.0")
    assert store.tally("clipping") == {"5.0": 2, "50.0": 1}
    assert list(store.tally("clipping")) == ["5.0", "50.0"]  # most votes first
    assert poll.shares(store.tally("clipping")) == pytest.approx({"5.0": 2 / 3, "50.0": 1 / 3})


def test_two_stores_on_one_file_share_the_tally(tmp_path):
    """Two replicas pointed at one file: a vote through either counts in both."""
    path = tmp_path / "shared" / "poll.sqlite"  # a directory that does not exist yet
    one, two = PollStore(path), PollStore(path)
    one.vote("tbptt", "tab-a", "25")
    two.vote("tbptt", "tab-b", "25")
    two.vote("tbptt", "tab-a", "10")  # tab-a's vote moves, whichever server takes it
    assert one.tally("tbptt") == two.tally("tbptt") == {"10": 1, "25": 1}


def test_another_process_and_concurrent_writers_share_one_file(tmp_path):
    """A second server process and thirty sessions voting at once: every vote counts."""
    path = tmp_path / "poll.sqlite"
    store = PollStore(path)
    code = ("from lab.service.poll import PollStore\n"
            f"s = PollStore({str(path)!r})\n"
            "[s.vote('grid', f'p{i}', 'H64-tanh-T25') for i in range(20)]")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    threads = [threading.Thread(target=store.vote, args=("grid", f"t{i}", "H128-tanh-T50"))
               for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert proc.wait(60) == 0
    assert store.tally("grid") == {"H128-tanh-T50": 30, "H64-tanh-T25": 20}
    assert PollStore(path).tally("grid") == store.tally("grid")


def _read_only_dir(path: Path) -> bool:
    """Make path a directory nobody can write in (chmod; as root, the immutable flag);
    whether that worked."""
    path.mkdir()
    path.chmod(0o555)
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    try:
        (path / "probe").touch()
    except OSError:
        return True
    (path / "probe").unlink()
    return False


def _writable_again(path: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755)


def _assert_falls_back(store: PollStore) -> None:
    assert not store.shared
    assert str(store.path) in store.note and "only" in store.note and "this server" in store.note
    store.vote("tbptt", "tab-a", "50")
    store.vote("tbptt", "tab-b", "50")
    store.vote("tbptt", "tab-a", "5")
    assert store.tally("tbptt") == {"5": 1, "50": 1}  # the same rules, in memory


def test_a_read_only_directory_falls_back_to_memory_and_says_so(tmp_path):
    ro = tmp_path / "ro"
    if not _read_only_dir(ro):
        _writable_again(ro)
        pytest.skip("cannot make a read-only directory here")
    try:
        _assert_falls_back(PollStore(ro / "poll.sqlite"))
    finally:
        _writable_again(ro)


def test_a_directory_that_cannot_exist_falls_back_to_memory_and_says_so(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    _assert_falls_back(PollStore(tmp_path / "a-file" / "rnn-lab" / "poll.sqlite"))


def test_a_damaged_poll_file_falls_back(tmp_path):
    bad = tmp_path / "poll.sqlite"
    bad.write_bytes(b"not a database" * 200)
    _assert_falls_back(PollStore(bad))


def test_the_server_poll_is_one_object_per_path(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_POLL_DB", str(tmp_path / "one.sqlite"))
    assert poll.poll() is poll.poll() and poll.poll().path == tmp_path / "one.sqlite"
    monkeypatch.setenv("LAB_POLL_DB", str(tmp_path / "two.sqlite"))
    assert poll.poll().path == tmp_path / "two.sqlite"
