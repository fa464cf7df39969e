"""Class mode's poll: the predictions a class committed, counted per study and option.

Anonymous: one vote per (study, voter), where a voter is one browser tab's session; a new
commit by the same voter moves its vote. Votes live in a small SQLite file (env LAB_POLL_DB,
default POLL_DB), beside the read-only results database, in WAL mode with a busy timeout,
so several server replicas pointed at one file (on one host) share one tally. A file that
cannot be opened or written (read-only or missing directory) gives an in-memory tally that
counts only this server's sessions, and says so (`PollStore.note`).

Held by this module (`poll()`), not by a Streamlit cache: any client can send Streamlit's
"clear cache" message, which would empty the tally. No streamlit here.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

POLL_DB = Path(tempfile.gettempdir()) / "rnn-lab" / "poll.sqlite"
BUSY_TIMEOUT_S = 5.0  # how long a write waits for another server's write to finish

_SCHEMA = """CREATE TABLE IF NOT EXISTS votes (
    study TEXT NOT NULL,   -- study id, e.g. 'tbptt'
    voter TEXT NOT NULL,   -- an anonymous session token
    choice TEXT NOT NULL,  -- the committed option (an arm key, yes/no, a grid cell)
    at REAL NOT NULL,      -- unix time of the latest commit
    PRIMARY KEY (study, voter))"""
_UPSERT = ("INSERT INTO votes VALUES (?, ?, ?, ?) ON CONFLICT (study, voter) "
           "DO UPDATE SET choice = excluded.choice, at = excluded.at")

Tally = dict[str, int]  # option -> votes


class PollUnavailable(RuntimeError):
    """The shared poll file failed while the server ran (its message says what happened)."""


class PollStore:
    """One tally of committed predictions: a SQLite file, or memory when the file cannot be
    used (`shared` False, `note` saying why). Safe to call from any thread."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path or os.environ.get("LAB_POLL_DB") or POLL_DB)
        self._lock = threading.Lock()
        self._memory: dict[tuple[str, str], str] = {}
        try:
            self._open()
            self.shared, self.note = True, ""
        except (OSError, sqlite3.Error) as e:
            self.shared = False
            self.note = (f"The class poll could not write its file {self.path} ({e}), so it "
                         "counts only the predictions made on this server, in memory, until "
                         "the server stops. Set LAB_POLL_DB to a writable file to share it.")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    def _open(self) -> None:
        """Create the directory, the file and its table, and prove a write goes through."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(self.path.parent, os.W_OK) or (
                self.path.exists() and not os.access(self.path, os.W_OK)):
            raise PermissionError("the location is read-only")
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")  # readers never block the one writer
            con.execute(_SCHEMA)
            con.execute("BEGIN IMMEDIATE")  # takes the write lock: fails if read-only
            con.execute("ROLLBACK")

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            with closing(self._connect()) as con:
                return con.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise PollUnavailable(f"The class poll's file {self.path} failed ({e}).") from e

    def vote(self, study: str, voter: str, choice: str) -> None:
        """Record voter's prediction for study, replacing the voter's earlier one."""
        if not self.shared:
            with self._lock:
                self._memory[(study, voter)] = choice
            return
        self._run(_UPSERT, (study, voter, choice, time.time()))

    def tally(self, study: str) -> Tally:
        """Votes per option for one study, most votes first."""
        return self.tallies().get(study, {})

    def tallies(self) -> dict[str, Tally]:
        """Study -> its tally, for every study with a vote."""
        if not self.shared:
            with self._lock:
                counts = Counter((s, c) for (s, _), c in self._memory.items())
            rows = [(s, c, n) for (s, c), n in counts.items()]
        else:
            rows = self._run("SELECT study, choice, count(*) FROM votes GROUP BY study, choice")
        out: dict[str, Tally] = {}
        for study, choice, n in sorted(rows, key=lambda r: (r[0], -r[2], r[1])):
            out.setdefault(study, {})[choice] = int(n)
        return out

    def clear(self) -> None:
        """Forget every vote (a new class)."""
        if not self.shared:
            with self._lock:
                self._memory.clear()
            return
        self._run("DELETE FROM votes")


def shares(tally: Tally) -> dict[str, float]:
    """Each option's share of the votes (0..1); empty for no votes."""
    total = sum(tally.values())
    return {k: n / total for k, n in tally.items()} if total else {}


def poll() -> PollStore:
    """This server's poll (env LAB_POLL_DB, read when first asked for a path): one object per
    path for the life of the process."""
    return _poll(os.environ.get("LAB_POLL_DB") or str(POLL_DB))


@functools.cache
def _poll(path: str) -> PollStore:
    return PollStore(path)
