// Dead letter queue and job pages in a real Chromium against a real rivetqd (no auth).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, newPage, screenshot, setUpApp } from "./harness.mjs";
import { killJobs, killMany, seed } from "./seed.mjs";

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

  it("the job page shows the job's headers", async () => {
    const { page, server } = app;
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const body = { payload: { report: "traced" }, headers: { traceparent, tenant: "acme" } };
    const { job_id: jobId } = await server.api("POST", "/v1/queues/reports/enqueue", body);
    await app.open(`/job/?id=${jobId}`);
    const headers = page.getByTestId("headers");
    await headers.filter({ hasText: traceparent }).waitFor();
    assert.match(await headers.innerText(), /tenant\s+acme/);
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
    await killMany(server, "many", 101);
    await app.open("/dlq/?name=many");
    const rows = page.locator("tr[data-job-id]");
    await page.getByRole("heading", { name: "101 dead jobs, showing 100", exact: true }).waitFor();
    assert.equal(await rows.count(), 100);
    await page.getByLabel(`Select ${await rows.first().getAttribute("data-job-id")}`).check();
    // A search loads every dead job, then polls go on: the search and the selection stay.
    await page.getByLabel("Search dead jobs").fill("pill");
    await page.getByRole("heading", { name: "101 dead jobs", exact: true }).waitFor();
    await eventually(async () => assert.equal(await rows.count(), 101));
    await page.waitForTimeout(2500);
    assert.equal(await page.getByLabel("Search dead jobs").inputValue(), "pill");
    await page.getByRole("button", { name: "Requeue selected (1)" }).waitFor();
    await page.getByLabel("Search dead jobs").fill("");
    await page.getByRole("heading", { name: "101 dead jobs, showing 100", exact: true }).waitFor();
    await page.getByRole("button", { name: "Load more" }).click();
    await page.getByRole("heading", { name: "101 dead jobs", exact: true }).waitFor();
    assert.equal(await rows.count(), 101);
    await page.getByRole("button", { name: "Requeue selected (1)" }).waitFor();
  });

  it("DLQ search covers every dead job of the queue, and finds text copied from the job page's payload", async () => {
    const { page, server } = app;
    await killMany(server, "deep", 1050);
    const first = await server.api("GET", "/v1/queues/deep/dlq?limit=1000");
    const rest = await server.api("GET", `/v1/queues/deep/dlq?limit=1000&cursor=${first.next_cursor}`);
    const last = rest.jobs[rest.jobs.length - 1]; // far past the 100 shown at first
    const lists = /** @type {string[]} */ ([]);
    const recordList = (/** @type {import("playwright-core").Request} */ request) => request.url().includes("/v1/queues/deep/dlq") && lists.push(request.url());
    page.on("request", recordList);
    await app.open("/dlq/?name=deep");
    await page.getByRole("heading", { name: "1,050 dead jobs, showing 100", exact: true }).waitFor();
    await app.open(`/job/?id=${last.id}`);
    const tagLine = (await page.getByTestId("payload").innerText()).split("\n").find((line) => line.includes('"tag"'));
    assert.equal(tagLine?.trim(), `"tag": "needle-${last.payload.n}"`);
    await app.open("/dlq/?name=deep");
    await page.getByLabel("Search dead jobs").fill(tagLine?.trim().toUpperCase() ?? "");
    await eventually(async () => assert.deepEqual(await page.locator("tr[data-job-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-job-id"))), [last.id]));
    await page.getByRole("heading", { name: "1,050 dead jobs", exact: true }).waitFor();
    page.off("request", recordList);
    assert.ok(lists.some((url) => url.includes("limit=1000") && url.includes("cursor=")), `no page of 1,000 after a cursor: ${lists.join(" ")}`);
    await page.getByLabel("Search dead jobs").fill("needle-does-not-exist");
    await page.getByText("No dead job matches “needle-does-not-exist”").waitFor();
  });

  it("shows the API's error message for an unknown job verbatim", async () => {
    const response = await fetch(`${app.server.url}/v1/jobs/no-such-job`);
    const { error } = await response.json();
    await app.open("/job/?id=no-such-job");
    await app.page.getByRole("alert").filter({ hasText: error.message }).waitFor();
  });
});

describe("jobs that change or vanish while their page is open", () => {
  it("the job page never scrolls sideways: a long payload line and a long error stay in their boxes", async () => {
    const { server } = app;
    const url = `https://hooks.example.test/v1/callbacks/order-created?signature=${"f0".repeat(60)}`;
    const [id] = await killJobs(server, "wide", [`POST ${url} failed: HTTP 502`], () => ({ blob: "x".repeat(100_000) }));
    const page = await newPage(app.browser);
    try {
      await page.goto(`${server.url}/ui/job/?id=${id}`);
      await page.getByTestId("payload").waitFor();
      for (const width of [390, 800, 1360]) {
        await page.setViewportSize({ width, height: 800 });
        const sizes = await page.evaluate(() => {
          const box = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));
          const [payload, error] = [box("payload"), box("last-error")];
          return { page: document.documentElement.scrollWidth, payload: payload.clientWidth, payloadContent: payload.scrollWidth, error: error.clientWidth, errorContent: error.scrollWidth };
        });
        assert.ok(sizes.page <= width, `${width} px: the page is ${sizes.page} px wide`);
        assert.ok(sizes.payload < width && sizes.payloadContent > sizes.payload, `${width} px: the payload box does not scroll: ${JSON.stringify(sizes)}`);
        assert.ok(sizes.errorContent <= sizes.error, `${width} px: the last error does not wrap: ${JSON.stringify(sizes)}`);
      }
      await page.setViewportSize({ width: 390, height: 800 });
      await screenshot(page, "job-390px");
    } finally {
      await page.context().close();
    }
  });

  it("requeue of a job deleted meanwhile says nothing was requeued and that the job is gone", async () => {
    const { page, server } = app;
    const [id] = await killJobs(server, "vanish", ["boom"]);
    await app.open(`/job/?id=${id}`);
    await page.getByRole("button", { name: "Requeue" }).waitFor();
    await server.api("DELETE", `/v1/jobs/${id}`);
    await page.getByRole("button", { name: "Requeue" }).click();
    await page.getByRole("status").filter({ hasText: "Nothing was requeued: the job is no longer in the dead letter queue." }).waitFor();
    await page.getByRole("alert").filter({ hasText: `job ${id} not found` }).waitFor();
    assert.equal(await page.getByText(/^Requeued/).count(), 0);
    assert.equal(await page.getByText("not found").count(), 1);
    assert.equal(await page.getByRole("button").filter({ hasText: /Requeue|Cancel job/ }).count(), 0);
    assert.equal(await page.getByRole("heading", { name: "Details" }).count(), 0);
  });

  it("requeue of a job someone else requeued meanwhile says nothing was requeued", async () => {
    const { page, server } = app;
    const [id] = await killJobs(server, "raced", ["boom"]);
    await app.open(`/job/?id=${id}`);
    await page.getByRole("button", { name: "Requeue" }).waitFor();
    assert.deepEqual(await server.api("POST", "/v1/queues/raced/dlq/requeue", { job_ids: [id] }), { requeued: 1 });
    await page.getByRole("button", { name: "Requeue" }).click();
    await page.getByText("Nothing was requeued: the job is no longer in the dead letter queue.").waitFor();
    await page.getByText("ready", { exact: true }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Requeue" }).count(), 0);
  });

  it("the job page says once that a job is gone after a worker acked it, offers no actions and stops polling", async () => {
    const { page, server } = app;
    const { job_id: id } = await server.api("POST", "/v1/queues/acked/enqueue", { payload: { work: 1 } });
    await app.open(`/job/?id=${id}`);
    await page.getByRole("button", { name: "Cancel job" }).waitFor();
    const { jobs } = await server.api("POST", "/v1/queues/acked/lease", { max_jobs: 1 });
    await server.api("POST", "/v1/ack", { job_id: id, lease_id: jobs[0].lease_id });
    let reads = 0;
    const countReads = (/** @type {import("playwright-core").Request} */ request) => {
      if (request.url().endsWith(`/v1/jobs/${id}`)) reads += 1;
    };
    await page.getByRole("alert").filter({ hasText: `job ${id} not found` }).waitFor();
    page.on("request", countReads);
    assert.equal(await page.getByText("not found").count(), 1);
    assert.equal(await page.getByRole("button", { name: "Cancel job" }).count(), 0);
    assert.equal(await page.getByRole("heading", { name: "Details" }).count(), 0);
    // A gone job never comes back: the page stops asking (it polls every 2 s otherwise).
    await page.waitForTimeout(4500);
    page.off("request", countReads);
    assert.equal(reads, 0);
  });

  it("DLQ requeue of a selected job deleted meanwhile says it was not requeued", async () => {
    const { page, server } = app;
    const [id] = await killJobs(server, "gone-requeue", ["boom"]);
    await app.open("/dlq/?name=gone-requeue");
    await page.getByLabel(`Select ${id}`).check();
    await server.api("DELETE", `/v1/jobs/${id}`);
    await page.getByRole("button", { name: "Requeue selected (1)" }).click();
    await page.getByText("Requeued 0 of 1: the job is no longer in the dead letter queue.").waitFor();
    await page.getByText("The dead letter queue is empty").waitFor();
  });

  it("DLQ delete of selected jobs carries on past one deleted meanwhile and says so", async () => {
    const { page, server } = app;
    const ids = await killJobs(server, "gone-delete", ["first", "second", "third"]);
    await app.open("/dlq/?name=gone-delete");
    for (const id of ids) await page.getByLabel(`Select ${id}`).check();
    await server.api("DELETE", `/v1/jobs/${ids[1]}`);
    await page.getByRole("button", { name: "Delete selected (3)" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete selected (3)" }).click();
    await page.getByText("Deleted 2 jobs; 1 was already gone.").waitFor();
    await page.getByText("The dead letter queue is empty").waitFor();
    assert.equal(await page.getByRole("alert").filter({ hasText: /not found|could not/ }).count(), 0);
    for (const id of ids) await assert.rejects(server.api("GET", `/v1/jobs/${id}`), /404/);
  });
});
