// The admin UI in a real Chromium against a real rivetqd (no auth).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually, launchBrowser, newPage, screenshot, startServer } from "./harness.mjs";
import { seed } from "./seed.mjs";

/** @type {import("./harness.mjs").RunningServer} */
let server;
/** @type {import("playwright-core").Browser} */
let browser;
/** @type {import("playwright-core").Page} */
let page;

before(async () => {
  server = await startServer();
  await seed(server);
  browser = await launchBrowser();
  page = await newPage(browser);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** @param {string} path */
const open = (path) => page.goto(`${server.url}/ui${path}`);

describe("admin UI", () => {
  it("overview lists every queue with its counts", async () => {
    await open("/");
    const row = page.locator('tr[data-queue="emails"]');
    await row.waitFor();
    assert.match(await row.innerText(), /emails\s+active\s+4\s+1\s+0\s+0/);
    await page.locator('tr[data-queue="webhooks"]').filter({ hasText: "3" }).waitFor();
    await page.locator('tr[data-queue="reports"]').waitFor();
    await screenshot(page, "overview");
  });

  it("a job enqueued from the form shows up in the jobs browser", async () => {
    await open("/queue/?name=emails");
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
    await open("/queue/?name=emails");
    await page.getByLabel("Payload (JSON)").fill("{not json");
    await page.getByText("Invalid JSON:").waitFor();
    assert.equal(await page.getByRole("button", { name: "Enqueue", exact: true }).isDisabled(), true);
  });

  it("a rate-limit edit persists across a reload and through the API", async () => {
    await open("/queue/?name=emails");
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
    await open("/queue/?name=reports");
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("button", { name: "Resume" }).waitFor();
    assert.equal((await server.api("GET", "/v1/queues/reports/stats")).paused, true);
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Pause" }).waitFor();
    assert.equal((await server.api("GET", "/v1/queues/reports/stats")).paused, false);
  });

  it("DLQ search and requeue move a dead job back to ready", async () => {
    await open("/dlq/?name=webhooks");
    await page.locator("tr[data-job-id]").nth(2).waitFor();
    await screenshot(page, "dlq");
    await page.getByLabel("Search dead jobs").fill("timeout");
    await eventually(async () => assert.equal(await page.locator("tr[data-job-id]").count(), 1));
    const jobId = await page.locator("tr[data-job-id]").getAttribute("data-job-id");
    await page.getByLabel(`Select ${jobId}`).check();
    await page.getByRole("button", { name: "Requeue selected (1)" }).click();
    await page.getByText("Requeued 1.").waitFor();
    const job = await server.api("GET", `/v1/jobs/${jobId}`);
    assert.deepEqual([job.state, job.tries], ["ready", 0]);
    assert.equal((await server.api("GET", "/v1/queues/webhooks/stats")).dlq, 2);
  });

  it("job page shows a dead job's error and payload, and requeues it", async () => {
    const dead = await server.api("GET", "/v1/queues/webhooks/dlq?limit=10");
    const job = dead.jobs.find((/** @type {any} */ j) => j.last_error === "HTTP 410 Gone");
    await open(`/job/?id=${job.id}`);
    await page.getByTestId("last-error").filter({ hasText: "HTTP 410 Gone" }).waitFor();
    assert.match(await page.getByTestId("payload").innerText(), /"event": "order.created"/);
    await screenshot(page, "job");
    await page.getByRole("button", { name: "Requeue" }).click();
    await page.getByText("Requeued: the job is ready again.").waitFor();
    assert.equal((await server.api("GET", `/v1/jobs/${job.id}`)).state, "ready");
  });

  it("purge asks first, then empties the queue", async () => {
    await open("/queue/?name=reports");
    await page.getByRole("button", { name: "Purge queue" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("This deletes all 2 jobs").waitFor();
    await dialog.getByRole("button", { name: "Purge queue" }).click();
    await page.getByText("Purged 2 jobs.").waitFor();
    const stats = await server.api("GET", "/v1/queues/reports/stats");
    assert.equal(stats.ready + stats.delayed + stats.inflight + stats.dlq, 0);
  });

  it("shows the API's error message verbatim", async () => {
    const response = await fetch(`${server.url}/v1/jobs/no-such-job`);
    const { error } = await response.json();
    await open("/job/?id=no-such-job");
    await page.getByRole("alert").filter({ hasText: error.message }).waitFor();
  });
});
