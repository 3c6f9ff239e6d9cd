"""Job headers: stored with the job, returned by lease and lookup, bounded with errors
naming the field."""

from __future__ import annotations

import pytest

from rivetq import wire
from rivetq.errors import InvalidArgument
from rivetq.manager import QueueManager
from tests.manager.support import QUEUE, job

TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tenant": "acme"}


async def test_headers_travel_with_the_job_to_lease_and_lookup(manager: QueueManager) -> None:
    job_id = (await manager.enqueue(QUEUE, job(headers=TRACE))).job_id
    [leased] = await manager.lease(QUEUE)
    assert leased.headers == TRACE
    assert (await manager.get_job(job_id)).headers == TRACE


async def test_headers_survive_a_retry(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job(headers=TRACE))
    [leased] = await manager.lease(QUEUE)
    assert leased.lease_id is not None
    await manager.nack(leased.id, leased.lease_id, delay_ms=0)
    [again] = await manager.lease(QUEUE)
    assert again.headers == TRACE


async def test_no_headers_and_empty_headers_both_store_none(manager: QueueManager) -> None:
    first = (await manager.enqueue(QUEUE, job())).job_id
    second = (await manager.enqueue(QUEUE, job(headers={}))).job_id
    assert (await manager.get_job(first)).headers is None
    assert (await manager.get_job(second)).headers is None


async def test_batch_headers_belong_to_each_job(manager: QueueManager) -> None:
    results = await manager.enqueue_batch(QUEUE, [job(headers={"n": "1"}), job(), job(headers={"n": "3"})])
    stored = [(await manager.get_job(result.job_id)).headers for result in results]
    assert stored == [{"n": "1"}, None, {"n": "3"}]


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({f"h{i}": "v" for i in range(wire.MAX_HEADERS + 1)}, "headers"),
        ({"": "v"}, "headers"),
        ({"n" * (wire.MAX_HEADER_NAME + 1): "v"}, "headers"),
        ({"big": "v" * (wire.MAX_HEADER_VALUE + 1)}, "headers.big"),
        ({f"h{i}": "é" * 2000 for i in range(5)}, "headers"),  # 20,010 bytes in all
        ({"n": 1}, "headers.n"),
    ],
)
async def test_headers_over_their_bounds_name_the_field(
    manager: QueueManager, headers: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.enqueue(QUEUE, job(headers=headers))
    assert caught.value.field == field


async def test_a_bad_header_in_a_batch_names_its_job_and_enqueues_nothing(manager: QueueManager) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.enqueue_batch(QUEUE, [job(headers={"ok": "1"}), job(headers={"": "x"})])
    assert caught.value.field == "jobs[1].headers"
    assert await manager.list_queues() == []
