"""rivetqctl against a real rivetqd, through click's CliRunner (in-process)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rivetq.cli.rivetqctl import cli
from tests.client.support import new_queue, server
from tests.e2e.server import RunningServer

__all__ = ["server"]

API_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def ctl(server: RunningServer) -> Iterator[Any]:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli, ["--server", server.url, *args], catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    yield invoke


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def _enqueued(result: Result) -> str:
    """The job id of ``enqueued job ID``."""
    said, job_id = result.stdout.strip().rsplit(" ", 1)
    assert said == "enqueued job", result.stdout
    return job_id


def test_ctl_enqueue_lease_ack(ctl: Any) -> None:
    queue = new_queue()
    job_id = _enqueued(ctl("enqueue", "-q", queue, "-p", '{"to":"user@example.com"}', "--priority", "7"))
    leased = _json(ctl("--json", "lease", "-q", queue, "--max-jobs", "5", "--visibility", "30000"))
    [job] = leased["jobs"]
    assert (job["id"], job["payload"], job["priority"], job["tries"]) == (job_id, {"to": "user@example.com"}, 7, 0)
    assert ctl("ack", job_id, job["lease_id"]).stdout.strip() == f"acked job {job_id}"
    [summary] = _json(ctl("--json", "list"))["queues"]
    assert summary["name"] == queue and summary["ready"] + summary["inflight"] == 0
    assert (summary["enqueued_total"], summary["acked_total"]) == (1, 1)


def test_ctl_lease_prints_a_table(ctl: Any) -> None:
    queue = new_queue()
    job_id = _enqueued(ctl("enqueue", "-q", queue, "-p", "[1, 2]"))
    lines = ctl("lease", "-q", queue).stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "PRIORITY", "TRIES", "LEASE", "PAYLOAD"]
    assert lines[1].split()[:4] == [job_id, "inflight", "5", "0"] and lines[1].endswith("[1,2]")
    listed = ctl("list").stdout.splitlines()
    assert listed[0].split() == ["QUEUE", "READY", "DELAYED", "INFLIGHT", "DLQ", "PAUSED"]
    assert [queue, "0", "0", "1", "0", "no"] in [line.split() for line in listed[1:]]


def test_ctl_nack_extend_and_dlq(ctl: Any) -> None:
    queue = new_queue()
    job_id = _enqueued(ctl("enqueue", "-q", queue, "-p", "1", "--max-retries", "0"))
    [job] = _json(ctl("lease", "-q", queue, "--json"))["jobs"]
    extended = _json(
        ctl("extend", "--job-id", job_id, "--lease-id", job["lease_id"], "--visibility", "60000", "--json")
    )
    assert extended["lease_expires_at"] > job["lease_expires_at"]
    assert API_TIME.fullmatch(extended["lease_expires_at"]) and API_TIME.fullmatch(job["lease_expires_at"])
    human = ctl("extend", job_id, job["lease_id"]).stdout.strip()
    assert re.fullmatch(f"extended the lease of job {job_id} until {API_TIME.pattern}", human), human
    nacked = ctl("nack", job_id, job["lease_id"], "--reason", "it broke").stdout.strip()
    assert nacked == f"nacked job {job_id}: now dead (in the dead letter queue)"
    assert "it broke" in ctl("dlq", "list", "-q", queue).stdout
    assert [j["id"] for j in _json(ctl("--json", "dlq", "list", "-q", queue))["jobs"]] == [job_id]
    requeued = ctl("dlq", "requeue", "-q", queue, "--job-id", job_id).stdout.strip()
    assert requeued == f"requeued 1 dead job of queue {queue}"
    [job] = _json(ctl("--json", "lease", "-q", queue))["jobs"]
    ctl("nack", job_id, job["lease_id"])
    assert _json(ctl("--json", "dlq", "purge", "-q", queue, "--yes")) == {"purged": 1}


def test_ctl_stats_jobs_and_job_commands(ctl: Any) -> None:
    queue = new_queue()
    ready = _enqueued(ctl("enqueue", "-q", queue, "-p", '"a"'))
    delayed = _enqueued(ctl("enqueue", "-q", queue, "-p", '"b"', "--delay-ms", "60000", "--idempotency-key", "k1"))
    stats = _json(ctl("--json", "stats", "-q", queue))
    assert (stats["ready"], stats["delayed"], stats["enqueued_total"]) == (1, 1, 2)
    assert stats["rate_limit"] == _json(ctl("--json", "rate-limit", "get", "-q", queue))  # one way to say "none"
    human = ctl("stats", "-q", queue).stdout
    assert re.search(r"^rate_limit +none$", human, re.MULTILINE)
    assert re.search(r"^concurrency_limit +none$", human, re.MULTILINE)
    page = _json(ctl("--json", "jobs", "-q", queue, "--state", "delayed"))
    assert [j["id"] for j in page["jobs"]] == [delayed] and page["next_cursor"] is None
    got = _json(ctl("--json", "job", "get", delayed))
    assert (got["state"], got["idempotency_key"], got["payload"]) == ("delayed", "k1", "b")
    assert API_TIME.fullmatch(got["created_at"]) and API_TIME.fullmatch(got["eta"])  # as REST writes times
    human = ctl("job", "get", ready).stdout
    assert "state" in human and API_TIME.search(human)
    assert ctl("job", "cancel", ready).stdout.strip() == f"cancelled job {ready}"
    ctl("job", "get", ready, code=1)


def test_ctl_enqueue_says_when_the_idempotency_key_made_a_duplicate(ctl: Any) -> None:
    queue = new_queue()
    first = _json(ctl("--json", "enqueue", "-q", queue, "-p", "1", "--idempotency-key", "once"))
    again = _json(ctl("--json", "enqueue", "-q", queue, "-p", "2", "--idempotency-key", "once"))
    assert "duplicate" not in first and again == {"job_id": first["job_id"], "duplicate": True}
    human = ctl("enqueue", "-q", queue, "-p", "3", "--idempotency-key", "once").stdout.strip()
    assert human == f"not enqueued: idempotency key once already enqueued job {first['job_id']}"


def test_ctl_enqueue_headers_are_shown_by_job_get(ctl: Any) -> None:
    queue = new_queue()
    job_id = ctl("enqueue", "-q", queue, "-p", "1", "--header", "traceparent=00-a=b-01", "--header", "tenant=acme")
    job_id = job_id.stdout.strip().removeprefix("enqueued job ")
    assert _json(ctl("--json", "job", "get", job_id))["headers"] == {"traceparent": "00-a=b-01", "tenant": "acme"}
    assert '{"traceparent":"00-a=b-01","tenant":"acme"}' in ctl("job", "get", job_id).stdout


def test_ctl_delete_queue_asks_then_removes_it(ctl: Any) -> None:
    queue = new_queue()
    job_id = ctl("enqueue", "-q", queue, "-p", "1").stdout.strip()
    ctl("lease", "-q", queue)
    assert "state_conflict" in ctl("delete-queue", "-q", queue, "--yes", code=1).stderr
    assert ctl("delete-queue", "-q", queue, "--force", "--yes").stdout.strip() == f"deleted queue {queue} and 1 job"
    assert queue not in [summary["name"] for summary in _json(ctl("--json", "list"))["queues"]]
    assert "job_not_found" in ctl("job", "get", job_id, code=1).stderr


def test_ctl_concurrency_limit(ctl: Any) -> None:
    queue = new_queue()
    for n in range(3):
        ctl("enqueue", "-q", queue, "-p", str(n))
    none = f"queue {queue} has no concurrency limit"
    assert ctl("concurrency-limit", "get", "-q", queue).stdout.strip() == none
    said = ctl("concurrency-limit", "set", "-q", queue, "--max-inflight", "2").stdout.strip()
    assert said == f"set the concurrency limit of queue {queue}: 2 in flight at most"
    assert _json(ctl("--json", "concurrency-limit", "get", "-q", queue)) == {"max_inflight": 2, "exists": True}
    assert len(_json(ctl("--json", "lease", "-q", queue, "--max-jobs", "5"))["jobs"]) == 2
    said = ctl("concurrency-limit", "delete", "-q", queue).stdout.strip()
    assert said == f"deleted the concurrency limit of queue {queue}"
    assert ctl("concurrency-limit", "get", "-q", queue).stdout.strip() == none
    assert "max_inflight" in ctl("concurrency-limit", "set", "-q", queue, "--max-inflight", "0", code=1).stderr


def test_ctl_schedules(ctl: Any) -> None:
    name, queue = new_queue(), new_queue()
    put = ctl("schedule", "put", name, "-q", queue, "-p", '{"r": 1}', "--cron", "@daily", "--timezone", "Asia/Tokyo",
              "--header", "team=data", "--catchup", "all")  # fmt: skip
    said, _, when = put.stdout.strip().partition("; next run at ")
    assert said == f"saved schedule {name}" and API_TIME.fullmatch(when), put.stdout  # as the API writes times
    listed = ctl("schedule", "list").stdout.splitlines()[1].split()
    assert (listed[0], listed[-1], API_TIME.fullmatch(listed[-3]) is not None) == (name, "no", True)
    shown = _json(ctl("--json", "schedule", "get", name))
    assert (shown["cron"], shown["timezone"], shown["headers"], shown["catchup"]) == (
        "@daily", "Asia/Tokyo", {"team": "data"}, "all"
    )  # fmt: skip
    assert API_TIME.fullmatch(shown["next_run_at"])
    assert name in ctl("schedule", "list").stdout
    assert ctl("schedule", "pause", name).stdout.startswith(f"paused schedule {name}")
    assert ctl("schedule", "resume", name).stdout.startswith(f"resumed schedule {name}")
    job_id = ctl("schedule", "run", name).stdout.strip().removeprefix("enqueued job ")
    assert _json(ctl("--json", "job", "get", job_id))["headers"]["rivetq-schedule"] == name
    assert ctl("schedule", "delete", name).stdout.strip() == f"deleted schedule {name}"
    assert "schedule_not_found" in ctl("schedule", "get", name, code=1).stderr
    assert "cron" in ctl("schedule", "put", name, "-q", queue, "-p", "1", "--cron", "nope", code=1).stderr


def test_ctl_pause_resume_purge_and_rate_limit(ctl: Any) -> None:
    queue = new_queue()
    ctl("enqueue", "-q", queue, "-p", "1")
    assert ctl("pause", "-q", queue).stdout.strip() == f"paused queue {queue}"
    assert re.search(r"^paused\s+yes$", ctl("stats", "-q", queue).stdout, re.MULTILINE)  # as `list` says it
    assert _json(ctl("--json", "lease", "-q", queue)) == {"jobs": []}
    assert ctl("resume", "-q", queue).stdout.strip() == f"resumed queue {queue}"
    said = ctl("rate-limit", "set", "-q", queue, "--capacity", "5", "--refill-rate", "2").stdout.strip()
    assert said == f"set the rate limit of queue {queue}: capacity 5, refill 2 per second"
    assert _json(ctl("--json", "rate-limit", "get", "-q", queue)) == {"capacity": 5, "refill_rate": 2, "exists": True}
    said = ctl("rate-limit", "get", "-q", queue).stdout.strip()
    assert said == f"rate limit of queue {queue}: capacity 5, refill 2 per second"
    assert ctl("rate-limit", "delete", "-q", queue).stdout.strip() == f"deleted the rate limit of queue {queue}"
    assert ctl("rate-limit", "get", "-q", queue).stdout.strip() == f"queue {queue} has no rate limit"
    assert ctl("purge", "-q", queue, "--yes").stdout.strip() == f"purged 1 job of queue {queue}"
    assert ctl("dlq", "purge", "-q", queue, "--yes").stdout.strip() == f"purged 0 dead jobs of queue {queue}"


@pytest.mark.parametrize("command", [["purge"], ["dlq", "purge"], ["delete-queue"]])
def test_ctl_deleting_jobs_without_yes_and_without_a_terminal_is_refused(ctl: Any, command: list[str]) -> None:
    queue = new_queue()
    _enqueued(ctl("enqueue", "-q", queue, "-p", "1"))
    refused = ctl("--json", *command, "-q", queue, code=2)
    assert refused.stdout == "" and "pass --yes (there is no terminal to ask)" in refused.stderr
    assert _json(ctl("--json", "stats", "-q", queue))["ready"] == 1


def test_ctl_a_server_address_that_is_no_url_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["--server", "localhost:8080", "list"])
    assert result.exit_code == 2
    assert "'localhost:8080' is not an http:// or https:// URL" in result.stderr


def test_ctl_retry_policy(ctl: Any) -> None:
    queue = new_queue()
    defaults = {"base_backoff_ms": 1000, "multiplier": 2.0, "max_backoff_ms": 3_600_000, "jitter": "equal"}
    assert _json(ctl("--json", "retry-policy", "get", "-q", queue)) == defaults
    set_args = ["retry-policy", "set", "-q", queue, "--base-backoff-ms", "500", "--multiplier", "3", "--jitter", "none"]
    assert _json(ctl(*set_args, "--json")) == {**defaults, "base_backoff_ms": 500, "multiplier": 3.0, "jitter": "none"}
    human = ctl("retry-policy", "get", "-q", queue).stdout.splitlines()
    assert human == [
        "base_backoff_ms  500",
        "multiplier       3.0",
        "max_backoff_ms   3600000",
        "jitter           none",
    ]
    said = ctl("retry-policy", "delete", "-q", queue).stdout.strip()
    assert said == f"reset the retry policy of queue {queue} to the defaults"
    assert _json(ctl("--json", "retry-policy", "get", "-q", queue)) == defaults
    bad = ctl("retry-policy", "set", "-q", queue, "--multiplier", "0.5", code=1)
    assert bad.stderr.startswith("error: invalid_argument: ") and "multiplier" in bad.stderr
    assert "random" in ctl("retry-policy", "set", "-q", queue, "--jitter", "random", code=2).stderr


def test_ctl_api_error_is_one_line_and_exit_1(ctl: Any) -> None:
    queue = new_queue()
    job_id = _enqueued(ctl("enqueue", "-q", queue, "-p", "1"))
    ctl("lease", "-q", queue)
    result = ctl("ack", job_id, "wrong-lease", code=1)
    assert result.stdout == ""
    assert result.stderr.startswith("error: lease_lost: ") and result.stderr.count("\n") == 1
    assert ctl("enqueue", "-q", queue, "-p", "1", "--priority", "12", code=1).stderr.startswith(
        "error: invalid_argument: "
    )


def test_ctl_empty_listings_say_so(ctl: Any) -> None:
    queue = new_queue()
    assert ctl("lease", "-q", queue).stdout == f"no jobs leased from queue {queue}\n"
    assert ctl("jobs", "-q", queue).stdout == f"no jobs in queue {queue}\n"
    assert ctl("jobs", "-q", queue, "--state", "dead").stdout == f"no dead jobs in queue {queue}\n"
    assert ctl("dlq", "list", "-q", queue).stdout == f"no dead jobs in queue {queue}\n"


def test_ctl_enqueue_reads_a_payload_from_a_file_or_stdin(ctl: Any, server: RunningServer, tmp_path: Path) -> None:
    """A payload near the 1 MiB limit, which no command line holds (``Argument list too long``)."""
    queue = new_queue()
    payload = {"blob": "x" * 1_000_000}
    document = tmp_path / "payload.json"
    document.write_bytes(json.dumps(payload).encode())
    from_file = _enqueued(ctl("enqueue", "-q", queue, "-p", f"@{document}"))
    runner = CliRunner()
    piped = runner.invoke(cli, ["--server", server.url, "enqueue", "-q", queue, "-p", "-"], input=document.read_bytes())
    assert piped.exit_code == 0, piped.stderr
    for job_id in (from_file, _enqueued(piped)):
        assert _json(ctl("--json", "job", "get", job_id))["payload"] == payload
    missing = ctl("enqueue", "-q", queue, "-p", f"@{tmp_path / 'nope.json'}", code=2)
    assert f"cannot read {tmp_path / 'nope.json'}: No such file or directory" in missing.stderr
    assert "not valid JSON" in runner.invoke(cli, ["enqueue", "-q", queue, "-p", "-"], input="{oops").stderr


@pytest.mark.parametrize(
    "args",
    [
        ["enqueue", "-p", "1"],  # no queue
        ["enqueue", "-q", "q", "-p", "{not json"],
        ["enqueue", "-q", "q", "-p", "1", "--header", "no-equals-sign"],
        ["ack", "only-a-job-id"],
        ["worker", "no_colon_here", "-q", "q"],
        ["worker", "no_such_module_xyz:handle", "-q", "q"],
    ],
)
def test_ctl_usage_errors_exit_2(ctl: Any, args: list[str]) -> None:
    assert "Error" in ctl(*args, code=2).stderr


def test_ctl_unreachable_server_is_a_connection_error_naming_it() -> None:
    from tests.e2e.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["list"], env={"RIVETQ_URL": url})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: connection_failed: cannot connect to the RivetQ server at {url} ")
    assert result.stderr.count("\n") == 1
