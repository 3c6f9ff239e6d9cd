// Dead letter queue and job pages in a real Chromium against a real rivetqd (no auth).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, screenshot, setUpApp } from "./harness.mjs";
import { seed } from "./seed.mjs";

const app = setUpApp({ seedWith: seed });

/** @param {string} error @returns {Promise<{ id: string }>} the dead webhooks job with this error */
async function deadJob(error) {
  const dead = await app.server.api("GET", "/v1/queues/webhooks/dlq?limit=10");
  return dead.jobs.find((/** @type {{ last_error: string }} */ j) => j.last_error === error);
}

describe("dead letter queue and job pages", () => {
  it("DLQ search and requeue move a dead job back to ready", async () => {
    const { page, server } = app;
    await app.open("/dlq/?name=webhooks");
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

  it("the job page shows a dead job's error and payload, and requeues it", async () => {
    const { page, server } = app;
    const job = await deadJob("HTTP 410 Gone");
    await app.open(`/job/?id=${job.id}`);
    await page.getByTestId("last-error").filter({ hasText: "HTTP 410 Gone" }).waitFor();
    assert.match(await page.getByTestId("payload").innerText(), /"event": "order.created"/);
    await screenshot(page, "job");
    await page.getByRole("button", { name: "Requeue" }).click();
    await page.getByText("Requeued: the job is ready again.").waitFor();
    assert.equal((await server.api("GET", `/v1/jobs/${job.id}`)).state, "ready");
  });

  it("deleting selected dead jobs asks first and removes them", async () => {
    const { page, server } = app;
    const job = await deadJob("HTTP 500 from https://hooks.example.test/a");
    await app.open("/dlq/?name=webhooks");
    await page.getByLabel(`Select ${job.id}`).check();
    await page.getByRole("button", { name: "Delete selected (1)" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete selected (1)" }).click();
    await page.getByText("The dead letter queue is empty").waitFor();
    await assert.rejects(server.api("GET", `/v1/jobs/${job.id}`), /404/);
  });

  it("cancel on the job page deletes the job", async () => {
    const { page, server } = app;
    const { job_id: jobId } = await server.api("POST", "/v1/queues/reports/enqueue", { payload: { report: "cancel me" } });
    await app.open(`/job/?id=${jobId}`);
    await page.getByTestId("payload").filter({ hasText: "cancel me" }).waitFor();
    await page.getByRole("button", { name: "Cancel job" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Cancel job" }).click();
    await page.getByRole("heading", { name: "Job cancelled" }).waitFor();
    await assert.rejects(server.api("GET", `/v1/jobs/${jobId}`), /404/);
  });

  it("loads more dead jobs past the first page, keeping the search", async () => {
    const { page, server } = app;
    const jobs = Array.from({ length: 101 }, (_, n) => ({ payload: { n }, max_retries: 0 }));
    await server.api("POST", "/v1/queues/many/enqueue_batch", { jobs });
    const { jobs: leased } = await server.api("POST", "/v1/queues/many/lease", { max_jobs: 101 });
    for (const job of leased) {
      await server.api("POST", "/v1/nack", { job_id: job.id, lease_id: job.lease_id, reason: `poison pill ${job.payload.n}` });
    }
    await app.open("/dlq/?name=many");
    await page.getByRole("heading", { name: "100+ dead jobs" }).waitFor();
    await page.getByLabel("Search dead jobs").fill("pill");
    await page.getByRole("button", { name: "Load more" }).click();
    await page.getByRole("heading", { name: "101 dead jobs" }).waitFor();
    assert.equal(await page.locator("tr[data-job-id]").count(), 101);
    assert.equal(await page.getByLabel("Search dead jobs").inputValue(), "pill");
  });

  it("shows the API's error message for an unknown job verbatim", async () => {
    const response = await fetch(`${app.server.url}/v1/jobs/no-such-job`);
    const { error } = await response.json();
    await app.open("/job/?id=no-such-job");
    await app.page.getByRole("alert").filter({ hasText: error.message }).waitFor();
  });
});
