"""/v1/schedules over REST, in process with a fake clock: create-or-replace, read, list
with next run times, pause/resume, run now, delete; errors naming the field."""

from __future__ import annotations

from rivetq.clock import FakeClock
from tests.server.conftest import ApiClient

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NIGHTLY = {"queue": "reports", "cron": "30 2 * * *", "timezone": "Europe/Berlin", "payload": {"report": "daily"}}


async def test_put_get_list_and_delete_a_schedule(client: ApiClient, clock: FakeClock) -> None:
    clock.set(T0)
    created = await client.put("/v1/schedules/nightly", json={**NIGHTLY, "headers": {"team": "data"}})
    assert created.status_code == 200
    view = created.json()
    assert (view["name"], view["next_run_at"], view["last_run_at"], view["runs_total"]) == (
        "nightly", "2026-01-01T01:30:00.000Z", None, 0
    )  # fmt: skip
    assert (view["payload"], view["headers"], view["catchup"], view["paused"]) == (
        {"report": "daily"}, {"team": "data"}, "skip", False
    )  # fmt: skip
    assert (await client.get("/v1/schedules/nightly")).json() == view
    replaced = (await client.put("/v1/schedules/nightly", json={**NIGHTLY, "cron": "@hourly"})).json()
    assert replaced["next_run_at"] == "2026-01-01T01:00:00.000Z"
    listed = (await client.get("/v1/schedules")).json()["schedules"]
    assert [(s["name"], s["next_run_at"]) for s in listed] == [("nightly", "2026-01-01T01:00:00.000Z")]
    assert (await client.delete("/v1/schedules/nightly")).json() == {"success": True}
    missing = await client.get("/v1/schedules/nightly")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "schedule_not_found")


async def test_pause_resume_and_run_now(client: ApiClient, clock: FakeClock) -> None:
    clock.set(T0)
    await client.put("/v1/schedules/every-minute", json={"queue": "q", "interval_ms": 60_000, "payload": 1})
    assert (await client.post("/v1/schedules/every-minute/pause")).json()["paused"] is True
    clock.advance(5 * 60_000)
    resumed = (await client.post("/v1/schedules/every-minute/resume")).json()
    assert (resumed["paused"], resumed["next_run_at"]) == (False, "2026-01-01T00:06:00.000Z")
    run = await client.post("/v1/schedules/every-minute/run")
    assert run.status_code == 201
    job = (await client.get(f"/v1/jobs/{run.json()['job_id']}")).json()
    assert (job["queue"], job["headers"]["rivetq-schedule"]) == ("q", "every-minute")


async def test_a_due_tick_is_fired_once(client: ApiClient, clock: FakeClock) -> None:
    clock.set(T0)
    await client.put("/v1/schedules/m", json={"queue": "q", "interval_ms": 60_000, "payload": 1})
    clock.advance(60_000)
    manager = client.runtime.manager
    await manager.fire_due_schedules()  # the server's own scheduler loop may have fired it first
    await manager.fire_due_schedules()
    [job] = (await client.get("/v1/queues/q/jobs")).json()["jobs"]
    assert job["headers"] == {"rivetq-schedule": "m", "rivetq-schedule-tick": "2026-01-01T00:01:00.000Z"}
    assert (await client.get("/v1/schedules/m")).json()["runs_total"] == 1


async def test_bad_schedules_answer_400_naming_the_field(client: ApiClient) -> None:
    for body, field in (
        ({**NIGHTLY, "cron": "every day"}, "cron"),
        ({**NIGHTLY, "timezone": "Nowhere/Else"}, "timezone"),
        ({"queue": "q", "payload": 1}, "cron"),
        ({"queue": "q", "payload": 1, "interval_ms": 5}, "interval_ms"),
        ({**NIGHTLY, "catchup": "some"}, "catchup"),
    ):
        response = await client.put("/v1/schedules/bad", json=body)
        assert (response.status_code, response.json()["error"].get("field")) == (400, field), body


async def test_fired_runs_show_in_metrics(client: ApiClient, clock: FakeClock) -> None:
    clock.set(T0)
    await client.put("/v1/schedules/m", json={"queue": "q", "interval_ms": 60_000, "payload": 1})
    clock.advance(60_000 + 250)
    await client.runtime.manager.fire_due_schedules()
    text = (await client.get("/metrics")).text
    assert 'rivetq_schedule_runs_total{schedule="m"} 1.0' in text
    assert 'rivetq_schedule_lag_seconds{schedule="m"} 0.25' in text
    assert (await client.delete("/v1/schedules/m")).status_code == 200
    assert 'schedule="m"' not in (await client.get("/metrics")).text  # a deleted schedule's series go with it
