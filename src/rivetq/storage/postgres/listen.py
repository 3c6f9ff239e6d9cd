"""Cross-node wakeups with LISTEN/NOTIFY.

``Notifier`` announces queues whose jobs may have become leasable (insert, retry,
requeue, resume, rate-limit change) to other nodes, but only for queues another node
waits on (see interest.py): while nobody waits, a change costs no NOTIFY. It sends
after the change committed, from its own task, coalescing every queue changed meanwhile
into one ``pg_notify`` (at most one every 10 ms per node): NOTIFY inside the writing
transaction would take PostgreSQL's global notify lock at every commit and serialize
all enqueues of the cluster. It also says which queues this node waits on.

``Listener`` holds one connection that LISTENs on both channels, calls the storage's
wakeup callback for other nodes' queues and tells the notifier who waits on what. It
reconnects after a lost connection and then wakes every queue and asks the others to
repeat what they wait on, since notifications sent while it was away are lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial

import psycopg

from rivetq.errors import StorageUnavailable
from rivetq.storage.postgres.database import Connection, Database
from rivetq.storage.postgres.interest import Interest

__all__ = ["CHANNEL", "LISTENER_APPLICATION_NAME", "WAITING_CHANNEL", "Listener", "Notifier"]

CHANNEL = "rivetq_wakeup"
# "<node> <queue>...": the node waits on those queues; "<node>" alone: tell me yours.
WAITING_CHANNEL = "rivetq_waiting"
LISTENER_APPLICATION_NAME = "rivetq-listener"  # how the LISTEN connection shows in pg_stat_activity
_MAX_PAYLOAD = 7000  # PostgreSQL's limit is 8000 bytes
_RECONNECT_MIN_S = 0.1
_RECONNECT_MAX_S = 1.0  # a long-poll on this node waits for the reconnect to hear other nodes' enqueues
_COALESCE_S = 0.01

log = logging.getLogger(__name__)


def _payloads(node_id: str, queues: list[str]) -> list[str]:
    """``"<node> <queue> <queue>..."`` messages (queue names contain no spaces)."""
    messages: list[str] = []
    current = node_id
    for queue in sorted(queues):
        if len(current) + len(queue) + 1 > _MAX_PAYLOAD:
            messages.append(current)
            current = node_id
        current += " " + queue
    messages.append(current)
    return messages


async def _send(conn: Connection, *, messages: list[tuple[str, str]]) -> None:
    for channel, payload in messages:
        await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


class Notifier:
    def __init__(self, database: Database, node_id: str, interest: Interest | None = None) -> None:
        self._database = database
        self._node_id = node_id
        self._interest = interest or Interest()
        self._wakes: set[str] = set()
        self._waits: set[str] = set()
        self._hello = False
        self._changed = asyncio.Event()
        self._stopped = False

    def queue_changed(self, queue: str) -> None:
        if self._interest.changed(queue):
            self._queue(self._wakes, [queue])

    def waiting_on(self, queue: str) -> None:
        """This node found ``queue`` empty: its long polls may wait on it now."""
        if self._interest.should_announce(queue):
            self._queue(self._waits, [queue])

    def heard(self, queues: list[str]) -> None:
        """A message of another node on the waiting channel."""
        if queues:
            self._queue(self._wakes, self._interest.heard_waiting(queues))
        else:
            self._queue(self._waits, self._interest.still_waiting())

    def say_hello(self) -> None:
        """Ask the other nodes what they wait on (this node may have missed it)."""
        self._hello = True
        self._changed.set()

    def stop(self) -> None:
        """End ``run`` (a flag, because the driver may swallow a task's cancellation)."""
        self._stopped = True
        self._changed.set()

    def _queue(self, pending: set[str], queues: list[str]) -> None:
        if queues:
            pending.update(queues)
            self._changed.set()

    def _take_messages(self) -> tuple[list[tuple[str, str]], list[str]]:
        """Everything pending as (channel, payload) messages, and the waits among them."""
        messages = [(CHANNEL, p) for p in _payloads(self._node_id, list(self._wakes))] if self._wakes else []
        waits = list(self._waits)
        if waits:
            messages += [(WAITING_CHANNEL, p) for p in _payloads(self._node_id, waits)]
        if self._hello:
            messages.append((WAITING_CHANNEL, self._node_id))
        self._wakes, self._waits, self._hello = set(), set(), False
        return messages, waits

    async def run(self) -> None:
        while True:
            await self._changed.wait()
            if self._stopped:
                return
            self._changed.clear()
            messages, waits = self._take_messages()
            try:
                await self._database.run(partial(_send, messages=messages), transaction=False)
            except (StorageUnavailable, psycopg.Error) as error:
                # Other nodes' long polls then end at their wait time.
                log.warning("rivetq postgres notifier could not notify %s: %s", messages, error)
                continue
            self._interest.announced(waits)
            # Under load, gather the queues of many commits into one notification.
            await asyncio.sleep(_COALESCE_S)


class Listener:
    def __init__(self, dsn: str, node_id: str, wake: Callable[[str], None], notifier: Notifier) -> None:
        self._dsn = dsn
        self._node_id = node_id
        self._wake = wake
        self._notifier = notifier
        self._stopped = False
        self._listening = False

    def stop(self) -> None:
        self._stopped = True

    async def run(self) -> None:
        """Listen until stopped. A lost connection is retried after a backoff that doubles
        while connecting keeps failing and starts over once a connection has listened, so
        each new outage costs the first retry's delay, not the last one's."""
        delay_s = _RECONNECT_MIN_S
        while not self._stopped:
            self._listening = False
            try:
                await self._listen()
            except psycopg.Error as error:
                if self._listening:
                    delay_s = _RECONNECT_MIN_S
                log.warning("rivetq postgres listener lost its connection (%s); retrying in %.1fs", error, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, _RECONNECT_MAX_S)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._dsn,
            autocommit=True,
            application_name=LISTENER_APPLICATION_NAME,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}; LISTEN {WAITING_CHANNEL}".encode())
            self._listening = True
            self._notifier.say_hello()
            for (queue,) in await (await conn.execute("SELECT queue FROM rivetq_queues")).fetchall():
                self._wake(queue)  # changes made while this node was not listening
            async for note in conn.notifies():
                if self._stopped:
                    return
                self._deliver(note.channel, note.payload)

    def _deliver(self, channel: str, payload: str) -> None:
        node_id, *queues = payload.split(" ")
        if node_id == self._node_id:
            return
        if channel == WAITING_CHANNEL:
            self._notifier.heard(queues)
            return
        for queue in queues:
            self._wake(queue)
