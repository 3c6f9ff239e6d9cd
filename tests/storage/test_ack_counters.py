"""``acked_total`` counts every successful ack once, whether the acks come one by one or
in an ``ack_batch`` spanning queues (where the engine updates each queue's counters once)."""

from __future__ import annotations

from rivetq.storage.base import Storage
from tests.storage.contract_support import T0, insert, job_id, lease, new_job


async def _acked_total(storage: Storage, queue: str) -> int:
    stats = await storage.stats(queue, now_ms=T0 + 1)
    assert stats is not None
    return stats.counters.acked_total


async def test_ack_batch_counts_each_successful_ack_in_its_own_queue(storage: Storage) -> None:
    await insert(storage, new_job(1), new_job(2), new_job(3), queue="a")
    await insert(storage, new_job(4), new_job(5), queue="b")
    one, two, three = await lease(storage, queue="a")
    four, five = await lease(storage, queue="b")
    await storage.ack(one.id, one.lease_id or "", now_ms=T0 + 1)
    results = await storage.ack_batch(
        [(two.id, two.lease_id or ""), (four.id, four.lease_id or ""), (three.id, "wrong"),
         (five.id, five.lease_id or ""), (job_id(99), "x"), (two.id, two.lease_id or "")],
        now_ms=T0 + 1,
    )  # fmt: skip
    assert [r.error_code for r in results] == [None, None, "lease_lost", None, "job_not_found", "job_not_found"]
    assert [r.queue for r in results] == ["a", "b", None, "b", None, None]
    assert await _acked_total(storage, "a") == 2
    assert await _acked_total(storage, "b") == 2
