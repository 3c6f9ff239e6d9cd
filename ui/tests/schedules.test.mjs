// The schedules page in a real Chromium against a real rivetqd (no auth).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setUpApp } from "./harness.mjs";

const app = setUpApp({});

describe("schedules page", () => {
  it("creates a schedule, shows its next run, runs it now, pauses, resumes and deletes it", async () => {
    const { page, server } = app;
    await app.open("/schedules/");
    await page.getByText("No schedules yet").waitFor();
    await page.getByLabel("Name", { exact: true }).fill("nightly-report");
    await page.getByLabel("Queue", { exact: true }).fill("reports");
    await page.getByLabel("Cron, @daily-style name, or interval in ms").fill("30 2 * * *");
    await page.getByLabel("Time zone (IANA)").fill("Europe/Berlin");
    await page.getByLabel("Payload (JSON)").fill('{"report": "daily"}');
    await page.getByLabel("Headers (JSON object of strings, optional)").fill('{"team": "data"}');
    await page.getByRole("button", { name: "Save schedule" }).click();
    await page.getByText("Saved nightly-report: next run").waitFor();
    const row = page.locator('tr[data-schedule="nightly-report"]');
    await row.getByText("30 2 * * *").waitFor();
    const saved = await server.api("GET", "/v1/schedules/nightly-report");
    assert.deepEqual([saved.queue, saved.timezone, saved.payload, saved.headers], ["reports", "Europe/Berlin", { report: "daily" }, { team: "data" }]);

    await row.getByRole("button", { name: "Run now" }).click();
    await row.getByText("Enqueued job").waitFor();
    assert.equal((await server.api("GET", "/v1/queues/reports/stats")).ready, 1);

    await row.getByRole("button", { name: "Pause" }).click();
    await row.getByRole("button", { name: "Resume" }).waitFor();
    assert.equal((await server.api("GET", "/v1/schedules/nightly-report")).paused, true);
    await row.getByRole("button", { name: "Resume" }).click();
    await row.getByRole("button", { name: "Pause" }).waitFor();

    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.getByText("No schedules yet").waitFor();
    await assert.rejects(server.api("GET", "/v1/schedules/nightly-report"), /404/);
  });

  it("shows the API's error for a bad cron expression", async () => {
    const { page } = app;
    await app.open("/schedules/");
    await page.getByLabel("Name", { exact: true }).fill("broken");
    await page.getByLabel("Queue", { exact: true }).fill("reports");
    await page.getByLabel("Cron, @daily-style name, or interval in ms").fill("every day");
    await page.getByRole("button", { name: "Save schedule" }).click();
    await page.getByRole("alert").filter({ hasText: "cron" }).waitFor();
  });
});
