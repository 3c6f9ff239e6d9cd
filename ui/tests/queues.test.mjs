// Overview and queue pages in a real Chromium against a real rivetqd (no auth).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, screenshot, setUpApp } from "./harness.mjs";
import { seed } from "./seed.mjs";

const app = setUpApp({ seedWith: seed });

describe("overview and queue pages", () => {
  it("overview lists every queue with its counts", async () => {
    await app.open("/");
    const row = app.page.locator('tr[data-queue="emails"]');
    await row.waitFor();
    assert.match(await row.innerText(), /emails\s+active\s+4\s+1\s+0\s+0/);
    await app.page.locator('tr[data-queue="webhooks"]').filter({ hasText: "3" }).waitFor();
    await app.page.locator('tr[data-queue="reports"]').waitFor();
    await screenshot(app.page, "overview");
  });

  it("a job enqueued from the form shows up in the jobs browser", async () => {
    const { page, server } = app;
    await app.open("/queue/?name=emails");
    await page.getByLabel("Payload (JSON)").fill('{"to": "form@example.test"}');
    await page.getByLabel("Priority").selectOption("9");
    await page.getByRole("button", { name: "Enqueue", exact: true }).click();
    const link = page.getByRole("status").filter({ hasText: "Enqueued" }).getByRole("link");
    const jobId = (await link.innerText()).trim();
    const job = await server.api("GET", `/v1/jobs/${jobId}`);
    assert.deepEqual([job.payload, job.priority, job.state], [{ to: "form@example.test" }, 9, "ready"]);
    await page.locator(`tr[data-job-id="${jobId}"]`).filter({ hasText: "form@example.test" }).waitFor();
    await screenshot(page, "queue");
  });

  it("the enqueue form refuses invalid JSON", async () => {
    await app.open("/queue/?name=emails");
    await app.page.getByLabel("Payload (JSON)").fill("{not json");
    await app.page.getByText("Invalid JSON:").waitFor();
    assert.equal(await app.page.getByRole("button", { name: "Enqueue", exact: true }).isDisabled(), true);
  });

  it("the jobs browser filters by state and pages with cursors", async () => {
    const { page, server } = app;
    const jobs = Array.from({ length: 25 }, (_, i) => ({ payload: { n: i } }));
    await server.api("POST", "/v1/queues/bulk/enqueue_batch", { jobs });
    await app.open("/queue/?name=bulk");
    const rows = page.locator("tr[data-job-id]");
    await page.getByText("Page 1").waitFor();
    assert.equal(await rows.count(), 20);
    await page.getByRole("button", { name: "Next →" }).click();
    await page.getByText("Page 2").waitFor();
    assert.equal(await rows.count(), 5);
    await page.getByRole("button", { name: "← Previous" }).click();
    await page.getByText("Page 1").waitFor();
    await app.open("/queue/?name=emails");
    await page.getByRole("tab", { name: "Delayed" }).click();
    await eventually(async () => {
      const [only, ...others] = await rows.allInnerTexts();
      assert.deepEqual(others, []);
      assert.match(only ?? "", /delayed[\s\S]*later@example\.test/);
    });
  });

  it("a rate-limit edit persists across a reload and through the API", async () => {
    const { page, server } = app;
    await app.open("/queue/?name=emails");
    await page.getByLabel("Capacity (tokens)").fill("10");
    await page.getByLabel("Refill rate (tokens/s)").fill("2.5");
    await page.getByRole("button", { name: "Save limit" }).click();
    await page.getByText("Rate limit saved.").waitFor();
    await page.reload();
    await page.getByTestId("rate-limit-current").filter({ hasText: "at most 2.5 jobs/s" }).waitFor();
    assert.equal(await page.getByLabel("Capacity (tokens)").inputValue(), "10");
    assert.equal(await page.getByLabel("Refill rate (tokens/s)").inputValue(), "2.5");
    const limit = await server.api("GET", "/v1/queues/emails/rate_limit");
    assert.deepEqual(limit, { capacity: 10, refill_rate: 2.5, exists: true });
  });

  it("pause and resume change the queue's state", async () => {
    const { page, server } = app;
    await app.open("/queue/?name=reports");
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("button", { name: "Resume" }).waitFor();
    assert.equal((await server.api("GET", "/v1/queues/reports/stats")).paused, true);
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Pause" }).waitFor();
    assert.equal((await server.api("GET", "/v1/queues/reports/stats")).paused, false);
  });

  it("purge asks first, then empties the queue", async () => {
    const { page, server } = app;
    await app.open("/queue/?name=reports");
    await page.getByRole("button", { name: "Purge queue" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("This deletes all 2 jobs").waitFor();
    await dialog.getByRole("button", { name: "Purge queue" }).click();
    await page.getByText("Purged 2 jobs.").waitFor();
    const stats = await server.api("GET", "/v1/queues/reports/stats");
    assert.equal(stats.ready + stats.delayed + stats.inflight + stats.dlq, 0);
  });

  it("shows the API's error message verbatim", async () => {
    const response = await fetch(`${app.server.url}/v1/queues/never-used/stats`);
    const { error } = await response.json();
    await app.open("/queue/?name=never-used");
    await app.page.getByRole("alert").filter({ hasText: error.message }).waitFor();
  });
});
