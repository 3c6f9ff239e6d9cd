// Overview and queue pages in a real Chromium against a real rivetqd (no auth).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, newPage, screenshot, setUpApp } from "./harness.mjs";
import { killJobs, seed } from "./seed.mjs";

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
    await page.getByLabel("Headers (JSON object of strings, optional)").fill('{"trace-id": "t-1"}');
    await page.getByRole("button", { name: "Enqueue", exact: true }).click();
    const link = page.getByRole("status").filter({ hasText: "Enqueued" }).getByRole("link");
    const jobId = (await link.innerText()).trim();
    const job = await server.api("GET", `/v1/jobs/${jobId}`);
    assert.deepEqual([job.payload, job.priority, job.state, job.headers], [{ to: "form@example.test" }, 9, "ready", { "trace-id": "t-1" }]);
    await page.locator(`tr[data-job-id="${jobId}"]`).filter({ hasText: "form@example.test" }).waitFor();
    await screenshot(page, "queue");
  });

  it("the enqueue form refuses invalid JSON", async () => {
    await app.open("/queue/?name=emails");
    await app.page.getByLabel("Payload (JSON)").fill("{not json");
    await app.page.getByText("Invalid JSON:").waitFor();
    assert.equal(await app.page.getByRole("button", { name: "Enqueue", exact: true }).isDisabled(), true);
  });

  it("the enqueue form refuses headers that are not an object of strings", async () => {
    await app.open("/queue/?name=emails");
    await app.page.getByLabel("Headers (JSON object of strings, optional)").fill('{"attempt": 3}');
    await app.page.getByText("Invalid headers: headers must be a JSON object of strings").waitFor();
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
    await page.getByRole("button", { name: "Save rate limit" }).click();
    await page.getByText("Rate limit saved.").waitFor();
    await page.reload();
    await page.getByTestId("rate-limit-current").filter({ hasText: "at most 2.5 jobs/s" }).waitFor();
    assert.equal(await page.getByLabel("Capacity (tokens)").inputValue(), "10");
    assert.equal(await page.getByLabel("Refill rate (tokens/s)").inputValue(), "2.5");
    const limit = await server.api("GET", "/v1/queues/emails/rate_limit");
    assert.deepEqual(limit, { capacity: 10, refill_rate: 2.5, exists: true });
  });

  it("the rate-limit form says why values the API refuses cannot be saved", async () => {
    const { page } = app;
    await app.open("/queue/?name=emails");
    const save = page.getByRole("button", { name: "Save rate limit" });
    await page.getByLabel("Capacity (tokens)").fill("0.5");
    await page.getByLabel("Refill rate (tokens/s)").fill("1");
    await page.getByRole("alert").filter({ hasText: "The capacity is at least 1 token" }).waitFor();
    assert.equal(await save.isDisabled(), true);
    await page.getByLabel("Capacity (tokens)").fill("1");
    await eventually(async () => assert.equal(await save.isDisabled(), false));
    assert.equal(await page.getByRole("alert").filter({ hasText: "The capacity is at least 1 token" }).count(), 0);
  });

  it("a concurrency-limit edit persists through the API and caps leases", async () => {
    const { page, server } = app;
    await app.open("/queue/?name=reports");
    await page.getByTestId("concurrency-limit-current").filter({ hasText: "No concurrency limit" }).waitFor();
    await page.getByLabel("Max in flight").fill("1");
    await page.getByRole("button", { name: "Save concurrency limit" }).click();
    await page.getByText("Concurrency limit saved.").waitFor();
    await page.getByTestId("concurrency-limit-current").filter({ hasText: "At most 1 job in flight" }).waitFor();
    assert.deepEqual(await server.api("GET", "/v1/queues/reports/concurrency_limit"), { max_inflight: 1, exists: true });
    await page.getByRole("button", { name: "Remove concurrency limit" }).click();
    await page.getByText("Concurrency limit removed.").waitFor();
    assert.deepEqual(await server.api("GET", "/v1/queues/reports/concurrency_limit"), { max_inflight: 0, exists: false });
  });

  it("the rate-limit editor shows a limit set through the API within a poll, and never overwrites what is being typed", async () => {
    const { page, server } = app;
    await server.api("POST", "/v1/queues/throttled/enqueue", { payload: 1 });
    await app.open("/queue/?name=throttled");
    const current = page.getByTestId("rate-limit-current");
    const [capacity, refill] = [page.getByLabel("Capacity (tokens)"), page.getByLabel("Refill rate (tokens/s)")];
    await current.filter({ hasText: "No rate limit" }).waitFor();
    await server.api("POST", "/v1/queues/throttled/rate_limit", { capacity: 7, refill_rate: 3 });
    await current.filter({ hasText: "at most 3 jobs/s, in bursts of up to 7" }).waitFor({ timeout: 3000 });
    assert.deepEqual([await capacity.inputValue(), await refill.inputValue()], ["7", "3"]);
    await capacity.fill("42");
    await server.api("POST", "/v1/queues/throttled/rate_limit", { capacity: 9, refill_rate: 4 });
    // A poll came after the typing: it shows the new limit and leaves the inputs alone.
    await current.filter({ hasText: "at most 4 jobs/s" }).waitFor({ timeout: 3000 });
    assert.deepEqual([await capacity.inputValue(), await refill.inputValue()], ["42", "3"]);
    await page.getByRole("button", { name: "Save rate limit" }).click();
    await current.filter({ hasText: "at most 3 jobs/s, in bursts of up to 42" }).waitFor();
    assert.deepEqual(await server.api("GET", "/v1/queues/throttled/rate_limit"), { capacity: 42, refill_rate: 3, exists: true });
    // Saved: the form follows the server again.
    await server.api("DELETE", "/v1/queues/throttled/rate_limit");
    await current.filter({ hasText: "No rate limit" }).waitFor({ timeout: 3000 });
    assert.deepEqual([await capacity.inputValue(), await refill.inputValue()], ["", ""]);
  });

  it("the confirmation dialog keeps the keyboard focus, closes on Escape wherever the focus is, and gives it back", async () => {
    const { page, server } = app;
    const before = await server.api("GET", "/v1/queues/emails/stats");
    await app.open("/queue/?name=emails");
    const opener = page.getByRole("button", { name: "Purge queue" });
    const dialog = page.getByRole("dialog");
    const focused = () => page.evaluate(() => ({ text: document.activeElement?.textContent, inDialog: Boolean(document.activeElement?.closest("dialog, [role=dialog]")) }));
    await opener.focus();
    await page.keyboard.press("Enter");
    await dialog.waitFor();
    for (const key of ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
      await page.keyboard.press(key);
      assert.ok((await focused()).inDialog, `${key}: the focus left the dialog for ${JSON.stringify(await focused())}`);
    }
    await page.evaluate(() => /** @type {HTMLElement} */ (document.activeElement).blur());
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.equal((await focused()).text, "Purge queue");
    await opener.click();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    assert.equal((await focused()).text, "Purge queue");
    assert.equal((await server.api("GET", "/v1/queues/emails/stats")).ready, before.ready, "purged without a confirmation");
  });

  it("the job-state tabs move with the Left and Right arrow keys, one Tab stop for all", async () => {
    const { page } = app;
    await app.open("/queue/?name=emails");
    const selected = () => page.getByRole("tab", { selected: true }).innerText();
    await page.getByRole("tab", { name: "All" }).focus();
    await page.keyboard.press("ArrowRight");
    assert.equal(await selected(), "Ready");
    await page.keyboard.press("ArrowRight");
    assert.equal(await selected(), "Delayed");
    await page.locator("tr[data-job-id]").filter({ hasText: "later@example.test" }).waitFor();
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    assert.equal(await selected(), "Dead");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Dead");
    assert.deepEqual(await page.getByRole("tab").evaluateAll((tabs) => tabs.map((t) => /** @type {HTMLElement} */ (t).tabIndex)), [-1, -1, -1, -1, 0]);
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

  it("delete asks first, then removes the queue and returns to the overview", async () => {
    const { page, server } = app;
    await server.api("POST", "/v1/queues/doomed/enqueue", { payload: 1 });
    await server.api("POST", "/v1/queues/doomed/enqueue", { payload: 2 });
    await server.api("POST", "/v1/queues/doomed/lease", { max_jobs: 1 });
    await app.open("/queue/?name=doomed");
    await page.getByRole("button", { name: "Delete queue" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("In flight now: 1 job,").waitFor();
    await dialog.getByRole("button", { name: "Delete queue" }).click();
    await page.waitForURL((url) => url.pathname === "/ui/" || url.pathname === "/ui");
    const { queues } = await server.api("GET", "/v1/queues");
    assert.ok(!queues.includes("doomed"), `still listed: ${queues}`);
    assert.ok(queues.includes("emails"));
  });

  it("shows the API's error message verbatim", async () => {
    const response = await fetch(`${app.server.url}/v1/queues/never-used/stats`);
    const { error } = await response.json();
    await app.open("/queue/?name=never-used");
    await app.page.getByRole("alert").filter({ hasText: error.message }).waitFor();
  });

  it("a 128-character queue name wraps: the queue, DLQ and job pages never scroll sideways", async () => {
    const { server } = app;
    const queue = "LongQueueName_0123456789".repeat(6).slice(0, 128); // no hyphen: nowhere to break
    const missing = queue.replace("Long", "Gone");
    assert.equal(queue.length, 128);
    const [id] = await killJobs(server, queue, ["boom"]);
    const page = await newPage(app.browser);
    try {
      const pages = [
        { path: `/queue/?name=${queue}`, ready: page.getByRole("heading", { name: "Throughput" }) },
        { path: `/dlq/?name=${queue}`, ready: page.locator(`tr[data-job-id="${id}"]`) },
        { path: `/job/?id=${id}`, ready: page.getByRole("link", { name: `Dead letters of ${queue}` }) },
        // The API's "queue … not found", shown verbatim.
        { path: `/queue/?name=${missing}`, ready: page.getByRole("alert").filter({ hasText: "not found" }) },
        { path: `/dlq/?name=${missing}`, ready: page.getByRole("alert").filter({ hasText: "not found" }) },
      ];
      const tooWide = [];
      for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
        await page.setViewportSize(viewport);
        for (const { path, ready } of pages) {
          await page.goto(`${server.url}/ui${path}`);
          await ready.waitFor();
          const size = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth }));
          if (size.page > size.window) tooWide.push(`${path.split("?")[0]} at ${viewport.width} px: ${size.page} px`);
        }
      }
      assert.deepEqual(tooWide, []);
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${server.url}/ui/queue/?name=${queue}`);
      await page.getByRole("heading", { name: "Throughput" }).waitFor();
      await screenshot(page, "queue-long-name-390px");
    } finally {
      await page.context().close();
    }
  });

  // Last: it restarts this file's server, empty.
  it("after the server restarts empty, the queue and DLQ pages say the queue is not found and show no stale numbers", async () => {
    const { page, server } = app;
    await app.open("/queue/?name=emails");
    await page.getByRole("heading", { name: "Throughput" }).waitFor();
    const dlq = await newPage(app.browser);
    try {
      await dlq.goto(`${server.url}/ui/dlq/?name=webhooks`);
      await dlq.locator("tr[data-job-id]").first().waitFor();
      await server.restart();
      await page.getByRole("alert").filter({ hasText: "queue emails not found" }).waitFor();
      assert.equal(await page.getByRole("heading", { name: "Throughput" }).count(), 0);
      assert.equal(await page.getByText(/^(Ready|In flight|Dead letters \(\d+\))$/).count(), 0);
      await dlq.getByRole("alert").filter({ hasText: "queue webhooks not found" }).waitFor();
      assert.equal(await dlq.locator("tr[data-job-id]").count(), 0);
      assert.equal(await dlq.getByRole("heading", { name: /dead jobs?/ }).count(), 0);
    } finally {
      await dlq.context().close();
    }
  });
});
