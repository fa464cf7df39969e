"""Refusing a file that is not a whole lab store before DuckDB opens it, with a message
that says what is wrong and what to do (missing, not DuckDB, a Git LFS pointer, truncated,
damaged, the wrong schema, locked by another process)."""

from __future__ import annotations

import struct
from pathlib import Path

_REBUILD = "rebuild it with `python -m lab.precompute`"
_RESTORE = "restore it with `git checkout -- precomputed/lab.duckdb`"


class StoreUnavailable(Exception):
    """The results store cannot be opened: `reason` is one of REASONS; the message says what
    is wrong and what to do, in words a student can act on."""

    REASONS = ("missing", "not_duckdb", "damaged", "schema", "locked")

    def __init__(self, path: Path, reason: str, message: str) -> None:
        super().__init__(message)
        self.path, self.reason = Path(path), reason


def _unavailable(path: Path, reason: str, detail: str = "") -> StoreUnavailable:
    what = {
        "missing": f"The results store {path} does not exist; {_REBUILD}.",
        "not_duckdb": f"The results store {path} is not a DuckDB database (it is empty or holds "
        f"other bytes); {_RESTORE} or {_REBUILD}.",
        "lfs": f"The results store {path} is a Git LFS pointer, not the database itself; fetch "
        "the real file with `git lfs pull`.",
        "damaged": f"The results store {path} is damaged (truncated or corrupted) and cannot be "
        f"read; {_RESTORE} or {_REBUILD}.",
        "schema": f"The results store {path} {detail}, which this version of the lab cannot "
        f"read; {_REBUILD}.",
        "locked": f"The results store {path} is busy: another process (such as a running "
        "precompute) is writing it; wait for it to finish, then reload." if detail != "write"
        else f"The results store {path} is open in another process (a running app or "
        "precompute holds DuckDB's file lock); stop that process, then run this again.",
    }[reason]
    return StoreUnavailable(path, "not_duckdb" if reason == "lfs" else reason, what)


_HEADERS = (4096, 8192)  # DuckDB's two alternating database headers follow the main one
_BLOCKS_START = 12288  # the first storage block starts after the three header blocks


def _check_header(path: Path) -> None:
    """Refuse files that are not DuckDB, or shorter than their own header says, before DuckDB
    sees them: bytes 8..12 spell DUCK, and the active database header (the one with the
    higher iteration) holds block_count and block_alloc_size, so a whole file is at least
    12288 + block_count x block_alloc_size bytes (a truncated copy opens, then fails later)."""
    with path.open("rb") as f:
        head = f.read(_BLOCKS_START)
    if head.startswith(b"version https://git-lfs"):
        raise _unavailable(path, "lfs")
    if head[8:12] != b"DUCK":
        raise _unavailable(path, "not_duckdb")
    if len(head) < _BLOCKS_START:
        raise _unavailable(path, "damaged")
    # each header: checksum, iteration, meta_block, free_list, block_count, block_alloc_size
    headers = [struct.unpack_from("<QQqqQQ", head, off) for off in _HEADERS]
    _, _, _, _, count, size = max(headers, key=lambda h: h[1])
    sane = 4096 <= size <= 1 << 30 and count < 1 << 40
    if sane and path.stat().st_size < _BLOCKS_START + count * size:
        raise _unavailable(path, "damaged")
