"""The names of what a backup holds, which carry everything a restore chooses by:

- ``snapshots/<applied LSN>-<unix ms>.mdb``: the LMDB store copied from one read
  transaction, holding every change up to its applied LSN;
- ``wal/<segment's first LSN>/<start>-<end>-<last LSN>-<unix ms>``: bytes
  ``[start, end)`` of a WAL segment, ending at a write-group boundary, whose last record
  is ``last LSN``, stored at that time.

Numbers are zero-padded, so key order is LSN order."""

from __future__ import annotations

import re
from typing import NamedTuple

from rivetq.backup.target import BackupTarget

__all__ = ["Catalog", "Piece", "Snapshot", "piece_key", "snapshot_key"]

SNAPSHOTS = "snapshots/"
WAL = "wal/"
_SNAPSHOT = re.compile(r"snapshots/(\d{20})-(\d{13})\.mdb")
_PIECE = re.compile(r"wal/(\d{20})/(\d{12})-(\d{12})-(\d{20})-(\d{13})")


class Snapshot(NamedTuple):
    key: str
    lsn: int
    ms: int


class Piece(NamedTuple):
    key: str
    segment: int  # the segment's first LSN
    start: int
    end: int
    last_lsn: int
    ms: int


def snapshot_key(lsn: int, ms: int) -> str:
    return f"{SNAPSHOTS}{lsn:020d}-{ms:013d}.mdb"


def piece_key(segment: int, start: int, end: int, last_lsn: int, ms: int) -> str:
    return f"{WAL}{segment:020d}/{start:012d}-{end:012d}-{last_lsn:020d}-{ms:013d}"


class Catalog(NamedTuple):
    snapshots: list[Snapshot]  # oldest first
    pieces: list[Piece]  # in log order

    @classmethod
    def read(cls, target: BackupTarget) -> Catalog:
        snapshots = [
            Snapshot(key, int(match[1]), int(match[2]))
            for key in target.list_keys(SNAPSHOTS)
            if (match := _SNAPSHOT.fullmatch(key))
        ]
        pieces = [
            Piece(key, *(int(group) for group in match.groups()))
            for key in target.list_keys(WAL)
            if (match := _PIECE.fullmatch(key))
        ]
        snapshots.sort(key=lambda snapshot: (snapshot.lsn, snapshot.ms))
        pieces.sort(key=lambda piece: (piece.segment, piece.start, piece.end))
        return cls(snapshots, pieces)
