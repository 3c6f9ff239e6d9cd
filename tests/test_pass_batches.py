"""PassBatches: calls that arrive together run as one batch, each caller gets its own
outcome, and a key's next batch waits for the one running."""

from __future__ import annotations

import asyncio

import pytest

from rivetq.pass_batches import PassBatches


class Recorder:
    """A batch call that doubles numbers and refuses negative ones (the whole batch, as a
    storage refuses a whole transaction); it can be held until released."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.ones: list[tuple[str, int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def run_batch(self, key: str, items: list[int]) -> list[int | BaseException]:
        self.batches.append((key, items))
        await self.release.wait()
        if any(item < 0 for item in items):
            raise ValueError("a negative item")
        return [2 * item for item in items]

    async def run_one(self, key: str, item: int) -> int:
        self.ones.append((key, item))
        await self.release.wait()
        if item < 0:
            raise ValueError(f"{item} is negative")
        return 2 * item


def batches(recorder: Recorder, **limits: object) -> PassBatches[str, int, int]:
    return PassBatches(recorder.run_batch, recorder.run_one, **limits)  # type: ignore[arg-type]


async def test_calls_of_one_pass_run_as_one_batch_per_key_in_order() -> None:
    recorder = Recorder()
    joined = batches(recorder)
    futures = [joined.submit("a", 1), joined.submit("b", 5), joined.submit("a", 2), joined.submit("a", 3)]
    assert await asyncio.gather(*futures) == [2, 10, 4, 6]
    assert recorder.batches == [("a", [1, 2, 3])]
    assert recorder.ones == [("b", 5)]  # alone: the single call, not a batch of one


async def test_a_batch_that_fails_runs_item_by_item_so_only_the_bad_item_fails() -> None:
    recorder = Recorder()
    joined = batches(recorder)
    futures = [joined.submit("a", 1), joined.submit("a", -1), joined.submit("a", 3)]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[0] == 2 and outcomes[2] == 6
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "-1 is negative"
    assert recorder.ones == [("a", 1), ("a", -1), ("a", 3)]


async def test_calls_arriving_while_their_key_runs_wait_and_then_go_together() -> None:
    recorder = Recorder()
    joined = batches(recorder)
    recorder.release.clear()
    first = joined.submit("a", 1)
    await asyncio.sleep(0.01)
    assert recorder.ones == [("a", 1)]  # running, held
    later = [joined.submit("a", n) for n in (2, 3)]
    other = joined.submit("b", 4)  # another key does not wait
    await asyncio.sleep(0.01)
    assert recorder.ones == [("a", 1), ("b", 4)] and not recorder.batches
    recorder.release.set()
    assert await asyncio.gather(first, *later, other) == [2, 4, 6, 8]
    assert recorder.batches == [("a", [2, 3])]


async def test_a_batch_holds_at_most_max_weight_and_the_rest_starts_beside_it() -> None:
    recorder = Recorder()
    joined: PassBatches[str, int, int] = PassBatches(
        recorder.run_batch, recorder.run_one, weight=lambda item: item, max_weight=5
    )
    futures = [joined.submit("a", n) for n in (2, 3, 4, 1, 9)]
    assert await asyncio.gather(*futures) == [4, 6, 8, 2, 18]
    assert recorder.batches == [("a", [2, 3]), ("a", [4, 1])]
    assert recorder.ones == [("a", 9)]  # over the limit on its own: still runs, alone


async def test_a_caller_that_goes_away_leaves_the_others_their_outcomes() -> None:
    recorder = Recorder()
    joined = batches(recorder)
    recorder.release.clear()
    gone, staying = joined.submit("a", 1), joined.submit("a", 2)
    await asyncio.sleep(0.01)
    gone.cancel()
    recorder.release.set()
    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await gone
