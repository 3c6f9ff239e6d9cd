"""The worker's lease bookkeeping, on a fake monotonic clock (no sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rivetq.client import Job
from rivetq.client._lease_book import LeaseBook

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _job(job_id: str, lease_id: str | None = "lease") -> Job:
    return Job(
        id=job_id, queue="q", payload=None, priority=5, tries=0, max_retries=3, created_at=NOW, lease_id=lease_id
    )


def test_lease_book_extends_after_a_third_of_the_visibility() -> None:
    clock = Ticks()
    book = LeaseBook(3_000, clock=clock)
    entry = book.add(_job("a"))
    clock.now += 0.999
    assert book.due() == []
    clock.now += 0.001
    assert book.due() == [entry]
    book.extended(entry)
    assert book.due() == []
    clock.now += 1.0
    assert book.due() == [entry]


def test_lease_book_skips_lost_settling_and_abandoned_jobs() -> None:
    clock = Ticks()
    book = LeaseBook(300, clock=clock)
    lost, settling, running = book.add(_job("a")), book.add(_job("b")), book.add(_job("c"))
    lost.lost = True
    assert book.settle(settling)
    clock.now += 1
    assert book.due() == [running]
    assert book.unsettled() == 2


def test_lease_book_drain_and_handler_never_both_settle() -> None:
    book = LeaseBook(1_000, clock=Ticks())
    finished, stuck = book.add(_job("a")), book.add(_job("b"))
    assert book.settle(finished)
    assert book.abandon_unsettled() == [stuck]
    assert not book.settle(stuck)
    assert len(book) == 1
    book.finish(finished)
    assert len(book) == 0


def test_lease_book_needs_a_leased_job() -> None:
    with pytest.raises(ValueError, match="no lease"):
        LeaseBook(1_000).add(_job("a", lease_id=None))


def test_lease_book_holds_acks_for_the_next_lease_call_unless_one_is_in_flight() -> None:
    book = LeaseBook(1_000, clock=Ticks())
    first, second, third = book.add(_job("a")), book.add(_job("b")), book.add(_job("c"))
    assert book.ack_with_next_lease(first)
    assert book.busy() == 2  # its slot is free before its ack is sent
    assert book.take_acks() == [first]
    assert not book.ack_with_next_lease(second)  # a lease call is in flight: it goes alone
    book.lease_answered([first])  # the call failed: its ack waits for the next one
    assert book.ack_with_next_lease(third)
    assert book.take_acks() == [first, third]
