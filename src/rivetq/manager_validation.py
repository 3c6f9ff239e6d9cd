"""Input validation of the ``QueueManager``: every check raises ``InvalidArgument``
naming the field (``jobs[3].priority`` inside a batch), because the gRPC edge calls the
manager with values no JSON schema has seen."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import msgspec

from rivetq import wire
from rivetq.errors import InvalidArgument, PayloadTooLarge
from rivetq.ids import is_job_id, new_job_id
from rivetq.models import JobState, NewJob, RateLimit, RetryPolicy

__all__ = [
    "MAX_DELAY_MS",
    "build_jobs",
    "check_batch_size",
    "check_insert",
    "check_cursor",
    "check_headers",
    "headers_bytes",
    "check_id",
    "check_id_list",
    "check_int",
    "check_queue",
    "check_rate_limit",
    "check_reason",
    "check_retry_policy",
    "check_state",
]

# "." and ".." match the SPEC's pattern but cannot be a URL path segment: HTTP clients,
# curl and browsers resolve them away (a DELETE of /v1/queues/./dlq purges queue "dlq").
_QUEUE_NAME = re.compile(r"(?!\.\.?$)[A-Za-z0-9_.-]{1,128}")
MAX_DELAY_MS = wire.MAX_DELAY_MS
_MAX_KEY = 256
_MAX_ID = 128
_MAX_REASON = 65_536
_JITTERS = ("equal", "full", "none")
_json_decoder = msgspec.json.Decoder()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_queue(name: object) -> str:
    if not isinstance(name, str) or not _QUEUE_NAME.fullmatch(name):
        raise InvalidArgument("queue name must match [A-Za-z0-9_.-]{1,128} and not be . or ..", field="queue")
    return name


def check_int(value: object, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgument(f"{field} must be an integer from {low} to {high}", field=field)
    return value


def check_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_ID:
        raise InvalidArgument(f"{field} must be a string of 1 to {_MAX_ID} characters", field=field)
    return value


def check_cursor(cursor: object) -> str:
    """A page cursor is the ``next_cursor`` of an earlier page: a job id. Anything else
    would page from an arbitrary point and answer an empty page instead of an error."""
    if not isinstance(cursor, str) or not is_job_id(cursor):
        raise InvalidArgument("cursor must be the next_cursor of an earlier page", field="cursor")
    return cursor


def check_id_list(values: Sequence[object], field: str) -> None:
    if len(values) > wire.MAX_BATCH:
        raise InvalidArgument(f"{field} must hold at most {wire.MAX_BATCH} entries", field=field)
    for i, value in enumerate(values):
        check_id(value, f"{field}[{i}]")


def check_state(state: object) -> JobState | None:
    if state is not None and not isinstance(state, JobState):
        raise InvalidArgument("state must be one of delayed, ready, inflight, dead", field="state")
    return state


def check_reason(reason: object) -> str | None:
    if reason is not None and (not isinstance(reason, str) or len(reason) > _MAX_REASON):
        raise InvalidArgument(f"reason must be a string of at most {_MAX_REASON} characters", field="reason")
    return reason


def check_batch_size(items: Sequence[object], field: str) -> None:
    if not 1 <= len(items) <= wire.MAX_BATCH:
        raise InvalidArgument(f"{field} must hold 1 to {wire.MAX_BATCH} entries", field=field)


def check_rate_limit(limit: RateLimit) -> RateLimit:
    if not _is_number(limit.capacity) or not 1 <= limit.capacity <= wire.MAX_RATE:
        message = f"capacity must be a number from 1 to {wire.MAX_RATE:g} (a job takes a whole token)"
        raise InvalidArgument(message, field="capacity")
    if not _is_number(limit.refill_rate) or not wire.MIN_REFILL_RATE <= limit.refill_rate <= wire.MAX_RATE:
        message = f"refill_rate must be a number from {wire.MIN_REFILL_RATE:g} to {wire.MAX_RATE:g} tokens per second"
        raise InvalidArgument(message, field="refill_rate")
    return limit


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def check_retry_policy(policy: RetryPolicy) -> RetryPolicy:
    check_int(policy.base_backoff_ms, "base_backoff_ms", 0, MAX_DELAY_MS)
    check_int(policy.max_backoff_ms, "max_backoff_ms", 0, MAX_DELAY_MS)
    multiplier = policy.multiplier
    if not _is_number(multiplier) or not 1 <= multiplier <= 100:
        raise InvalidArgument("multiplier must be a number from 1 to 100", field="multiplier")
    if policy.jitter not in _JITTERS:
        raise InvalidArgument(f"jitter must be one of {', '.join(_JITTERS)}", field="jitter")
    return policy


def build_jobs(
    requests: Sequence[wire.EnqueueRequest], *, now_ms: int, max_payload_bytes: int, prefix: str | None
) -> list[NewJob]:
    """Validate every request and make the jobs; field names get ``prefix[i].`` in front."""
    return [
        _build_job(request, now_ms, max_payload_bytes, "" if prefix is None else f"{prefix}[{i}].")
        for i, request in enumerate(requests)
    ]


def check_insert(
    queue: str, requests: Sequence[wire.EnqueueRequest], *, now_ms: int, max_payload_bytes: int, prefix: str | None
) -> list[NewJob]:
    """The jobs an enqueue (``prefix`` None) or a batch (``prefix`` "jobs") inserts, every
    field checked in the order the errors are reported."""
    if prefix is not None:
        check_batch_size(requests, prefix)
    check_queue(queue)
    return build_jobs(requests, now_ms=now_ms, max_payload_bytes=max_payload_bytes, prefix=prefix)


def _build_job(request: wire.EnqueueRequest, now_ms: int, max_payload_bytes: int, at: str) -> NewJob:
    key = request.idempotency_key
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= _MAX_KEY):
        raise InvalidArgument(f"{at}idempotency_key must be 1 to {_MAX_KEY} characters", field=f"{at}idempotency_key")
    return NewJob(
        id=new_job_id(now_ms),
        payload=_payload(request.payload, max_payload_bytes, at),
        priority=check_int(request.priority, f"{at}priority", 0, 9),
        eta_ms=_eta_ms(request, now_ms, at),
        max_retries=check_int(request.max_retries, f"{at}max_retries", 0, 1000),
        idempotency_key=key,
        headers=check_headers(request.headers, f"{at}headers"),
    )


def check_headers(headers: object, field: str) -> dict[str, str] | None:
    """String → string, bounded in count, name and value length and total size; an empty
    mapping is stored as none."""
    if headers is None:
        return None
    if not isinstance(headers, dict):
        raise InvalidArgument(f"{field} must be an object of strings", field=field)
    if len(headers) > wire.MAX_HEADERS:
        raise InvalidArgument(f"{field} must hold at most {wire.MAX_HEADERS} entries", field=field)
    for name, value in headers.items():
        _check_header(name, value, field)
    if (size := headers_bytes(headers)) > wire.MAX_HEADERS_BYTES:
        raise InvalidArgument(f"{field} must total at most {wire.MAX_HEADERS_BYTES} bytes, not {size}", field=field)
    return dict(headers) or None


def headers_bytes(headers: Mapping[str, str]) -> int:
    """Names and values together, in UTF-8: what ``wire.MAX_HEADERS_BYTES`` bounds."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in headers.items())


def _check_header(name: object, value: object, field: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= wire.MAX_HEADER_NAME:
        raise InvalidArgument(f"{field} names must be strings of 1 to {wire.MAX_HEADER_NAME} characters", field=field)
    if not isinstance(value, str) or len(value) > wire.MAX_HEADER_VALUE:
        message = f"{field}.{name} must be a string of at most {wire.MAX_HEADER_VALUE} characters"
        raise InvalidArgument(message, field=f"{field}.{name}")


def _payload(payload: object, max_payload_bytes: int, at: str) -> bytes:
    if not isinstance(payload, msgspec.Raw | bytes | bytearray | memoryview):
        raise InvalidArgument(f"{at}payload must be JSON", field=f"{at}payload")
    data = bytes(payload)
    if len(data) > max_payload_bytes:
        raise PayloadTooLarge(f"{at}payload is {len(data)} bytes, above {max_payload_bytes}", field=f"{at}payload")
    try:
        _json_decoder.decode(data)
    except msgspec.DecodeError as error:
        reason = str(error)
    except UnicodeDecodeError:  # msgspec checks UTF-8 only inside strings, and raises this
        reason = "invalid UTF-8 in a string"
    except RecursionError:  # msgspec's nesting limit
        reason = "nested too deeply"
    else:
        return data
    raise InvalidArgument(f"{at}payload must be valid JSON: {reason}", field=f"{at}payload")


def _eta_ms(request: wire.EnqueueRequest, now_ms: int, at: str) -> int:
    if request.run_at is not None and request.delay_ms is not None:
        raise InvalidArgument(f"{at}run_at and {at}delay_ms are exclusive", field=f"{at}run_at")
    if request.delay_ms is not None:
        return now_ms + check_int(request.delay_ms, f"{at}delay_ms", 0, MAX_DELAY_MS)
    if request.run_at is not None:
        eta_ms = _parse_rfc3339_ms(request.run_at, f"{at}run_at")
        if eta_ms - now_ms > MAX_DELAY_MS:
            raise InvalidArgument(
                f"{at}run_at must be at most {MAX_DELAY_MS} ms from now, as delay_ms", field=f"{at}run_at"
            )
        return eta_ms
    return now_ms


def _parse_rfc3339_ms(text: object, field: str) -> int:
    message = f"{field} must be an RFC 3339 time with a UTC offset, e.g. 2030-01-02T03:04:05Z"
    if not isinstance(text, str) or "T" not in text.upper():
        raise InvalidArgument(message, field=field)
    try:
        moment = datetime.fromisoformat(text.upper())  # RFC 3339 allows a lower-case t and z
    except ValueError:
        raise InvalidArgument(message, field=field) from None
    if moment.tzinfo is None:
        raise InvalidArgument(message, field=field)
    return (moment - _EPOCH) // timedelta(milliseconds=1)
