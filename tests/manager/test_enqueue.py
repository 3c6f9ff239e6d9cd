"""Enqueue: validation naming the field, ids and etas, idempotency, batch atomicity."""

from __future__ import annotations

import asyncio

import pytest

from rivetq.clock import FakeClock
from rivetq.errors import InvalidArgument, PayloadTooLarge, QueueNotFound
from rivetq.manager import ManagerOptions, QueueManager
from rivetq.models import JobState
from rivetq.storage.memory import MemoryStorage
from tests.manager.support import QUEUE, RecordingObserver, job


async def _invalid_field(call: object) -> str | None:
    assert asyncio.iscoroutine(call)
    with pytest.raises(InvalidArgument) as caught:
        await call
    return caught.value.field


async def test_enqueue_stores_the_job_as_sent(manager: QueueManager, clock: FakeClock) -> None:
    result = await manager.enqueue(QUEUE, job(b'{"a": [1, 2]}', priority=7, max_retries=9, idempotency_key="k"))
    stored = await manager.get_job(result.job_id)
    assert result.duplicate is False
    assert (stored.payload, stored.priority, stored.max_retries, stored.idempotency_key) == (
        b'{"a": [1, 2]}',
        7,
        9,
        "k",
    )
    assert (stored.eta_ms, stored.created_at_ms, stored.tries) == (clock.now_ms(), clock.now_ms(), 0)
    assert stored.state_at(clock.now_ms()) is JobState.READY


async def test_enqueue_ids_are_time_ordered(manager: QueueManager) -> None:
    ids = [(await manager.enqueue(QUEUE, job())).job_id for _ in range(20)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 20


async def test_enqueue_delay_sets_eta(manager: QueueManager, clock: FakeClock) -> None:
    result = await manager.enqueue(QUEUE, job(delay_ms=1500))
    stored = await manager.get_job(result.job_id)
    assert stored.eta_ms == clock.now_ms() + 1500
    assert stored.state_at(clock.now_ms()) is JobState.DELAYED


@pytest.mark.parametrize(
    ("run_at", "eta_ms"),
    [
        ("2030-01-02T03:04:05Z", 1_893_553_445_000),
        ("2030-01-02T03:04:05.250Z", 1_893_553_445_250),
        ("2030-01-02T04:04:05+01:00", 1_893_553_445_000),
        ("2030-01-02t03:04:05z", 1_893_553_445_000),  # RFC 3339 allows lower case
    ],
)
async def test_enqueue_run_at_sets_eta(manager: QueueManager, run_at: str, eta_ms: int) -> None:
    result = await manager.enqueue(QUEUE, job(run_at=run_at))
    assert (await manager.get_job(result.job_id)).eta_ms == eta_ms


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"priority": 10}, "priority"),
        ({"priority": -1}, "priority"),
        ({"delay_ms": -1}, "delay_ms"),
        ({"max_retries": 1001}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "k" * 257}, "idempotency_key"),
        ({"run_at": "tomorrow"}, "run_at"),
        ({"run_at": "2030-01-02T03:04:05"}, "run_at"),
        ({"run_at": "2030-01-02"}, "run_at"),
        ({"run_at": "2030-01-02T03:04:05Z", "delay_ms": 5}, "run_at"),
        ({"run_at": "9999-12-31T23:59:59Z"}, "run_at"),  # further than delay_ms may reach
    ],
)
async def test_enqueue_rejects_bad_fields_naming_them(
    manager: QueueManager, request_fields: dict[str, object], field: str
) -> None:
    assert await _invalid_field(manager.enqueue(QUEUE, job(**request_fields))) == field  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "payload",
    [b"", b"{", b"{'a': 1}", b"[1, 2] 3", b"nan", b"\xff", b'"\xff"', b'{"k": "\xed\xa0\x80"}', b'{"\xc3": 1}'],
)
async def test_enqueue_rejects_payload_that_is_not_json(manager: QueueManager, payload: bytes) -> None:
    assert await _invalid_field(manager.enqueue(QUEUE, job(payload))) == "payload"


async def test_enqueue_rejects_payload_nested_too_deeply_naming_the_job(clock: FakeClock) -> None:
    manager = QueueManager(MemoryStorage(), clock=clock, options=ManagerOptions(max_payload_bytes=1 << 20))
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InvalidArgument) as caught:
        await manager.enqueue(QUEUE, job(deep))
    assert (caught.value.field, caught.value.message) == ("payload", "payload must be valid JSON: nested too deeply")
    with pytest.raises(InvalidArgument) as caught:
        await manager.enqueue_batch(QUEUE, [job(), job(deep)])
    assert caught.value.field == "jobs[1].payload"


async def test_enqueue_rejects_payload_above_the_limit(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job(b'"' + b"x" * 1022 + b'"'))
    with pytest.raises(PayloadTooLarge) as caught:
        await manager.enqueue(QUEUE, job(b'"' + b"x" * 1023 + b'"'))
    assert caught.value.field == "payload"


@pytest.mark.parametrize("name", ["", "a" * 129, "with space", "slash/name", "ünï", ".", ".."])
async def test_enqueue_rejects_bad_queue_names(manager: QueueManager, name: str) -> None:
    assert await _invalid_field(manager.enqueue(name, job())) == "queue"


async def test_enqueue_accepts_every_allowed_queue_character(manager: QueueManager) -> None:
    name = "Az09_.-" + "q" * 121
    await manager.enqueue(name, job())
    assert (await manager.stats(name)).ready == 1


async def test_enqueue_duplicate_key_returns_the_first_job(manager: QueueManager, observer: RecordingObserver) -> None:
    first = await manager.enqueue(QUEUE, job(idempotency_key="order-1"))
    second = await manager.enqueue(QUEUE, job(b"2", idempotency_key="order-1"))
    assert (second.job_id, second.duplicate) == (first.job_id, True)
    assert (await manager.stats(QUEUE)).ready == 1
    assert observer.counts[("enqueued", QUEUE)] == 1


async def test_enqueue_key_expires_with_the_dedup_window(manager: QueueManager, clock: FakeClock) -> None:
    first = await manager.enqueue(QUEUE, job(idempotency_key="order-1"))
    clock.advance(86_400_000)
    second = await manager.enqueue(QUEUE, job(idempotency_key="order-1"))
    assert second.duplicate is False and second.job_id != first.job_id


async def test_enqueue_concurrent_same_key_creates_one_job(manager: QueueManager) -> None:
    results = await asyncio.gather(*(manager.enqueue(QUEUE, job(idempotency_key="same")) for _ in range(20)))
    assert len({r.job_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert (await manager.stats(QUEUE)).ready == 1


async def test_enqueue_batch_returns_results_in_order(manager: QueueManager) -> None:
    results = await manager.enqueue_batch(
        QUEUE, [job(b"1", idempotency_key="a"), job(b"2"), job(b"3", idempotency_key="a")]
    )
    assert [r.duplicate for r in results] == [False, False, True]
    assert results[2].job_id == results[0].job_id
    assert (await manager.get_job(results[1].job_id)).payload == b"2"


@pytest.mark.parametrize(
    ("bad", "field"),
    [(job(priority=12), "jobs[3].priority"), (job(b"{"), "jobs[3].payload"), (job(delay_ms=-5), "jobs[3].delay_ms")],
)
async def test_enqueue_batch_with_one_invalid_job_creates_nothing(
    manager: QueueManager, bad: object, field: str
) -> None:
    batch = [job(), job(), job(idempotency_key="k"), bad, job()]
    assert await _invalid_field(manager.enqueue_batch(QUEUE, batch)) == field  # type: ignore[arg-type]
    with pytest.raises(QueueNotFound):
        await manager.stats(QUEUE)
    assert (await manager.enqueue(QUEUE, job(idempotency_key="k"))).duplicate is False


async def test_enqueue_batch_too_large_or_empty_is_rejected(manager: QueueManager) -> None:
    assert await _invalid_field(manager.enqueue_batch(QUEUE, [])) == "jobs"
    assert await _invalid_field(manager.enqueue_batch(QUEUE, [job()] * 1001)) == "jobs"


async def test_enqueue_batch_payload_too_large_names_the_job(manager: QueueManager) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        await manager.enqueue_batch(QUEUE, [job(), job(b'"' + b"x" * 2000 + b'"')])
    assert caught.value.field == "jobs[1].payload"
