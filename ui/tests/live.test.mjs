// Live updates: the overview polls every 2 s while visible and not at all while hidden.
// The page's timers run on Playwright's fake clock, so no test time is spent waiting.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, newPage, setUpApp } from "./harness.mjs";

const app = setUpApp({ seedWith: (server) => server.api("POST", "/v1/queues/live/enqueue", { payload: 1 }) });

/** Counts, inside the page, calls of GET /v1/queues (one per overview refresh), calls of a
 * queue's stats, and API calls in flight. */
function countListCalls() {
  const calls = { count: 0, stats: 0, pending: 0 };
  Object.assign(window, { listCalls: calls });
  const original = window.fetch;
  window.fetch = async (input, init) => {
    if (String(input).endsWith("/v1/queues")) calls.count++;
    if (String(input).endsWith("/stats")) calls.stats++;
    calls.pending++;
    try {
      return await original(input, init);
    } finally {
      calls.pending--;
    }
  };
}

/** @param {import("playwright-core").Page} page */
const inFlight = (page) => page.evaluate(() => /** @type {any} */ (window).listCalls.pending);

/** @param {import("playwright-core").Page} page @param {boolean} [hidden] sets document.hidden first */
function listCalls(page, hidden) {
  return page.evaluate((value) => {
    if (value !== undefined) {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => value });
      document.dispatchEvent(new Event("visibilitychange"));
    }
    return /** @type {{ listCalls: { count: number } }} */ (/** @type {unknown} */ (window)).listCalls.count;
  }, hidden);
}

/** Advances the page's clock in small steps, each after the page's fetches finished, until `done`. */
async function advanceUntil(/** @type {import("playwright-core").Page} */ page, /** @type {() => Promise<boolean>} */ done, limitMs = 3000) {
  for (let spent = 0; spent < limitMs; spent += 250) {
    await eventually(async () => assert.equal(await inFlight(page), 0));
    await page.clock.runFor(250);
    if (await done()) return true;
  }
  return false;
}

describe("live updates", () => {
  it("polls while visible, stops while hidden, and refreshes at once when shown again", async () => {
    const page = await newPage(app.browser);
    await page.addInitScript(countListCalls);
    await page.clock.install();
    await page.goto(`${app.server.url}/ui/`);
    await page.locator('tr[data-queue="live"]').waitFor();
    await page.clock.pauseAt(Date.now() + 60_000);

    const visible = await listCalls(page);
    assert.ok(await advanceUntil(page, async () => (await listCalls(page)) > visible), "no refresh within 3 s while visible");

    const hidden = await listCalls(page, true);
    await advanceUntil(page, async () => false, 20_000);
    assert.equal(await listCalls(page), hidden, "refreshed while the tab was hidden");

    await listCalls(page, false);
    await eventually(async () => assert.ok((await listCalls(page)) > hidden));
  });

  it("shows rates from the queue list alone: one call per refresh, none per queue", async () => {
    const page = await newPage(app.browser);
    await page.addInitScript(countListCalls);
    await page.clock.install();
    await page.goto(`${app.server.url}/ui/`);
    await page.locator('tr[data-queue="live"]').waitFor();
    for (let n = 0; n < 5; n++) await app.server.api("POST", "/v1/queues/live/enqueue", { payload: n });
    await page.clock.runFor(2_500);
    await eventually(async () => assert.notEqual(await page.locator('tr[data-queue="live"] td').nth(6).innerText(), "0.00/s"));
    const stats = await page.evaluate(() => /** @type {any} */ (window).listCalls.stats);
    assert.equal(stats, 0, "the overview asked for a queue's stats");
  });

  // Last: it stops this file's server.
  it("keeps the last data and says the server is unreachable when it goes away", async () => {
    const page = await newPage(app.browser);
    await page.clock.install();
    await page.goto(`${app.server.url}/ui/`);
    await page.locator('tr[data-queue="live"]').waitFor();
    await app.server.stop();
    await page.clock.runFor(2_500);
    await page.getByText("Cannot reach the RivetQ server").waitFor();
    await page.getByText("Retrying every 2 s").waitFor();
    assert.equal(await page.locator('tr[data-queue="live"]').count(), 1);
  });
});
