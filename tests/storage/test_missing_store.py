"""A lost key-value store (``kv/data.mdb`` deleted, emptied, or created anew by a failed
start) beside a log whose early segments a checkpoint deleted: startup refuses, naming
the store file, and changes nothing; ``--accept-wal-loss`` does not turn it into an
empty server; ``wal verify`` says the same. A store emptied while the log still holds
every record, and a brand-new data dir, still start."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from rivetq.storage.local import LocalOptions, LocalStorage
from rivetq.storage.local.kv import KVStore, LostStore
from rivetq.storage.local.order_build import build_order_keys
from rivetq.storage.local.segment import list_segments
from rivetq.storage.local.verify import verify_data_dir
from tests.e2e.server import spawn_server
from tests.storage.contract_support import QUEUE, T0, insert, new_job

JOBS = 60
SMALL_SEGMENT = 4096


def _options(data_dir: Path, *, accept_wal_loss: bool = False, segment_size: int = SMALL_SEGMENT) -> LocalOptions:
    return LocalOptions(data_dir=data_dir, segment_size=segment_size, accept_wal_loss=accept_wal_loss)


async def _closed_data_dir(data_dir: Path, *, segment_size: int = SMALL_SEGMENT) -> None:
    """``JOBS`` jobs, one WAL record each, all checkpointed by the closing checkpoint
    (which deletes the segments before it)."""
    storage = LocalStorage(_options(data_dir, segment_size=segment_size))
    await storage.open()
    for n in range(1, JOBS + 1):
        await insert(storage, new_job(n))
    await storage.close()


async def _ready_jobs(data_dir: Path) -> int:
    storage = LocalStorage(_options(data_dir))
    await storage.open()
    try:
        stats = await storage.stats(QUEUE, now_ms=T0)
    finally:
        await storage.close()
    return 0 if stats is None else stats.ready


def _delete(data_file: Path) -> None:
    data_file.unlink()


def _empty(data_file: Path) -> None:
    data_file.write_bytes(b"")


def _create_anew(data_file: Path) -> None:
    """What a failed start did before the fix: a new store in the deleted file's place
    (made while the log is away, which the fix now requires)."""
    data_file.unlink()
    wal_dir = data_file.parent.parent / "wal"
    hidden = wal_dir.rename(wal_dir.with_name("wal.hidden"))
    store = KVStore(data_file.parent, map_size=1 << 20)
    build_order_keys(store)  # the old start got this far before the log stopped it
    store.close()
    hidden.rename(wal_dir)


LOSSES: dict[str, tuple[Callable[[Path], None], str]] = {
    "deleted": (_delete, "is missing"),
    "emptied": (_empty, "is empty (0 bytes)"),
    "created anew": (_create_anew, "is a new store that holds no checkpoint"),
}


@pytest.fixture(params=list(LOSSES))
async def lost_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """A checkpointed data dir (its log starts after record 1) whose store was lost in
    one of ``LOSSES``' ways; (data dir, how the error describes the store file)."""
    data_dir = tmp_path / "data"
    await _closed_data_dir(data_dir)
    assert list_segments(data_dir / "wal")[0][0] > 1  # the checkpoint deleted the early segments
    lose, described = LOSSES[request.param]
    lose(data_dir / "kv" / "data.mdb")
    return data_dir, described


def _files(data_dir: Path) -> dict[str, bytes]:
    """Every file under the log and the store, with its bytes."""
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for part in ("wal", "kv")
        for path in sorted((data_dir / part).glob("*"))
        if path.name != "lock.mdb"  # LMDB's reader table, not data
    }


def _assert_names_the_lost_store(message: str, data_dir: Path, described: str) -> None:
    data_file = data_dir / "kv" / "data.mdb"
    oldest = list_segments(data_dir / "wal")[0][1]
    assert f"{data_file} {described}" in message, message
    assert oldest.name in message and "the log alone cannot rebuild the state" in message, message
    assert "rivetqd restore" in message and "docs/backup.md" in message, message
    assert "to start without it" not in message, message  # never sent towards --accept-wal-loss


@pytest.mark.parametrize("accept_wal_loss", [False, True])
async def test_startup_refuses_a_lost_store_and_changes_nothing(
    lost_store: tuple[Path, str], accept_wal_loss: bool
) -> None:
    data_dir, described = lost_store
    before = _files(data_dir)
    storage = LocalStorage(_options(data_dir, accept_wal_loss=accept_wal_loss))
    with pytest.raises(LostStore) as refused:
        await storage.open()
    _assert_names_the_lost_store(str(refused.value), data_dir, described)
    assert _files(data_dir) == before  # no store created or rewritten, no segment set aside
    with pytest.raises(LostStore):  # the next attempt sees the same thing
        await LocalStorage(_options(data_dir)).open()


async def test_verify_names_the_lost_store(lost_store: tuple[Path, str]) -> None:
    data_dir, described = lost_store
    (problem,) = verify_data_dir(data_dir)
    _assert_names_the_lost_store(problem, data_dir, described)


async def test_rivetqd_refuses_a_deleted_store_even_with_accept_wal_loss(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await _closed_data_dir(data_dir)
    (data_dir / "kv" / "data.mdb").unlink()
    exit_code, output = _start_rivetqd(tmp_path / "server", data_dir, "--accept-wal-loss")
    assert exit_code == 1 and "rivetqd_startup_failed" in output, output
    _assert_names_the_lost_store(output, data_dir, "is missing")
    assert not (data_dir / "kv" / "data.mdb").exists()
    assert not list((data_dir / "wal").glob("*.lost-*"))


def _start_rivetqd(directory: Path, data_dir: Path, *args: str) -> tuple[int | None, str]:
    """Run ``rivetqd`` on ``data_dir`` until it exits (or 30 s: then it is killed, with
    the processes it started); its exit code (None if killed) and output."""
    process, log_path, _, _ = spawn_server(directory, *args, data_dir=data_dir, grpc=False)
    try:
        exit_code: int | None = process.wait(30)
    except subprocess.TimeoutExpired:
        exit_code = None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the server and its children
            process.wait()
    return exit_code, log_path.read_text()


@pytest.mark.parametrize("lose", [_delete, _empty], ids=["deleted", "emptied"])
async def test_a_lost_store_is_rebuilt_while_the_log_holds_every_record(
    tmp_path: Path, lose: Callable[[Path], None]
) -> None:
    """No checkpoint deleted a segment (the log starts at record 1): replay rebuilds it all."""
    await _closed_data_dir(tmp_path, segment_size=1 << 20)
    assert list_segments(tmp_path / "wal")[0][0] == 1
    lose(tmp_path / "kv" / "data.mdb")
    assert verify_data_dir(tmp_path) == []
    assert await _ready_jobs(tmp_path) == JOBS


async def test_a_new_data_dir_starts_and_keeps_its_jobs(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    data_dir.mkdir()  # empty, as an operator makes one: no log, no store
    await _closed_data_dir(data_dir)
    assert await _ready_jobs(data_dir) == JOBS
    assert verify_data_dir(data_dir) == []
