"""Jobs and queues: inspect, cancel, purge, stats and listings, the DLQ."""

from __future__ import annotations

import pytest

from rivetq.clock import FakeClock
from rivetq.errors import InvalidArgument, JobNotFound, QueueNotFound, StateConflict
from rivetq.manager import QueueManager
from rivetq.models import Job, JobState, RetryPolicy
from tests.manager.support import QUEUE, RecordingObserver, job


async def _dead(manager: QueueManager, count: int) -> list[Job]:
    await manager.enqueue_batch(QUEUE, [job(max_retries=0) for _ in range(count)])
    leased = await manager.lease(QUEUE, max_jobs=count)
    for each in leased:
        await manager.nack(each.id, each.lease_id or "", reason="broken")
    return leased


async def test_cancel_deletes_a_waiting_job(manager: QueueManager) -> None:
    result = await manager.enqueue(QUEUE, job(delay_ms=5000))
    await manager.cancel(result.job_id)
    with pytest.raises(JobNotFound):
        await manager.get_job(result.job_id)


async def test_cancel_of_an_inflight_job_is_a_conflict(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job())
    [leased] = await manager.lease(QUEUE)
    with pytest.raises(StateConflict):
        await manager.cancel(leased.id)
    assert await manager.get_job(leased.id) == leased


async def test_cancel_of_an_unknown_job_is_not_found(manager: QueueManager) -> None:
    with pytest.raises(JobNotFound):
        await manager.cancel("0190a000-0000-7000-8000-000000000000")


async def test_purge_deletes_every_job_of_the_queue(manager: QueueManager) -> None:
    await _dead(manager, 1)
    await manager.enqueue_batch(QUEUE, [job(), job(delay_ms=10)])
    await manager.enqueue("other", job())
    assert await manager.purge(QUEUE) == 3
    stats = await manager.stats(QUEUE)
    assert (stats.ready, stats.delayed, stats.dlq) == (0, 0, 0)
    assert (await manager.stats("other")).ready == 1


async def test_stats_of_a_queue_that_never_existed_is_not_found(manager: QueueManager) -> None:
    with pytest.raises(QueueNotFound):
        await manager.stats("never")


async def test_stats_and_list_queues_count_by_state(manager: QueueManager, clock: FakeClock) -> None:
    await _dead(manager, 1)
    await manager.enqueue_batch(QUEUE, [job(), job(), job(delay_ms=10)])
    await manager.lease(QUEUE)
    await manager.pause("b-queue")
    stats = await manager.stats(QUEUE)
    assert (stats.ready, stats.delayed, stats.inflight, stats.dlq) == (1, 1, 1, 1)
    assert (stats.counters.enqueued_total, stats.counters.leased_total, stats.counters.nacked_total) == (4, 2, 1)
    assert [(s.queue, s.config.paused) for s in await manager.list_queues()] == [("b-queue", True), (QUEUE, False)]


async def test_list_jobs_pages_and_filters(manager: QueueManager) -> None:
    ids = [r.job_id for r in await manager.enqueue_batch(QUEUE, [job() for _ in range(5)])]
    first = await manager.list_jobs(QUEUE, state=None, limit=3, cursor=None)
    rest = await manager.list_jobs(QUEUE, state=None, limit=3, cursor=first.next_cursor)
    assert [j.id for j in first.jobs + rest.jobs] == ids
    assert rest.next_cursor is None
    await manager.lease(QUEUE)
    inflight = await manager.list_jobs(QUEUE, state=JobState.INFLIGHT, limit=10, cursor=None)
    assert [j.id for j in inflight.jobs] == ids[:1]


@pytest.mark.parametrize(
    ("limit", "state", "cursor", "field"),
    [
        (0, None, None, "limit"),
        (1001, None, None, "limit"),
        (10, "ready", None, "state"),
        (10, None, "garbage", "cursor"),
        (10, None, "0190A000-0000-7000-8000-000000000000", "cursor"),
    ],
)
async def test_list_jobs_rejects_bad_arguments(
    manager: QueueManager, limit: int, state: object, cursor: str | None, field: str
) -> None:
    await manager.enqueue(QUEUE, job())
    with pytest.raises(InvalidArgument) as raised:
        await manager.list_jobs(QUEUE, state=state, limit=limit, cursor=cursor)  # type: ignore[arg-type]
    assert raised.value.field == field


async def test_a_cursor_past_every_job_pages_to_nothing(manager: QueueManager) -> None:
    await manager.enqueue(QUEUE, job())
    page = await manager.list_jobs(QUEUE, state=None, limit=10, cursor="ffffffff-ffff-7fff-bfff-ffffffffffff")
    assert (page.jobs, page.next_cursor) == ([], None)


async def test_dlq_lists_dead_jobs_with_their_error(manager: QueueManager) -> None:
    dead = await _dead(manager, 3)
    page = await manager.list_dlq(QUEUE, limit=2, cursor=None)
    rest = await manager.list_dlq(QUEUE, limit=2, cursor=page.next_cursor)
    assert sorted(j.id for j in page.jobs + rest.jobs) == sorted(j.id for j in dead)
    assert {j.last_error for j in page.jobs} == {"broken"}


async def test_requeue_some_dead_jobs_resets_tries(manager: QueueManager) -> None:
    first, second, _third = await _dead(manager, 3)
    assert await manager.requeue_dlq(QUEUE, [first.id, second.id, "0190a000-0000-7000-8000-000000000000"]) == 2
    leased = await manager.lease(QUEUE, max_jobs=5)
    assert sorted(j.id for j in leased) == sorted([first.id, second.id])
    assert {j.tries for j in leased} == {0}
    assert (await manager.stats(QUEUE)).dlq == 1


async def test_requeue_all_and_purge_dlq(manager: QueueManager) -> None:
    await _dead(manager, 2)
    assert await manager.requeue_dlq(QUEUE, None) == 2
    leased = await manager.lease(QUEUE, max_jobs=5)
    for each in leased:
        await manager.nack(each.id, each.lease_id or "")
    assert await manager.purge_dlq(QUEUE) == 2
    assert (await manager.stats(QUEUE)).dlq == 0


async def test_requeue_rejects_bad_ids(manager: QueueManager) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.requeue_dlq(QUEUE, ["ok", ""])
    assert caught.value.field == "job_ids[1]"


async def test_delete_queue_forgets_it_and_tells_the_observer(
    manager: QueueManager, observer: RecordingObserver
) -> None:
    await manager.enqueue(QUEUE, job())
    await manager.set_retry_policy(QUEUE, RetryPolicy(base_backoff_ms=7))
    assert await manager.delete_queue(QUEUE) == 1
    assert observer.counts[("deleted", QUEUE)] == 1
    with pytest.raises(QueueNotFound):
        await manager.stats(QUEUE)
    assert await manager.get_retry_policy(QUEUE) == RetryPolicy()


async def test_delete_queue_checks_its_arguments(manager: QueueManager) -> None:
    with pytest.raises(InvalidArgument) as bad_name:
        await manager.delete_queue("no spaces")
    with pytest.raises(InvalidArgument) as bad_force:
        await manager.delete_queue(QUEUE, force="yes")  # type: ignore[arg-type]
    assert (bad_name.value.field, bad_force.value.field) == ("queue", "force")


async def test_concurrency_limit_is_set_read_and_removed(manager: QueueManager) -> None:
    assert await manager.get_concurrency_limit(QUEUE) is None
    await manager.set_concurrency_limit(QUEUE, 5)
    assert await manager.get_concurrency_limit(QUEUE) == 5
    assert (await manager.stats(QUEUE)).config.max_inflight == 5
    await manager.delete_concurrency_limit(QUEUE)
    assert await manager.get_concurrency_limit(QUEUE) is None


@pytest.mark.parametrize("bad", [0, -1, 1_000_001, True, 2.5])
async def test_concurrency_limit_out_of_range_names_the_field(manager: QueueManager, bad: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await manager.set_concurrency_limit(QUEUE, bad)  # type: ignore[arg-type]
    assert caught.value.field == "max_inflight"
