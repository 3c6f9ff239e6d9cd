// Regenerates docs/screenshots/*.png: a real rivetqd with seeded data and a bounded stream
// of enqueue/lease/ack traffic (about 45 s, loopback only), so that rates and charts show.
// Run: cd ui && npm run screenshots (after scripts/build-ui.sh).

import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { launchBrowser, newPage, startServer } from "../tests/harness.mjs";
import { seed } from "../tests/seed.mjs";

const OUT = resolve(dirname(fileURLToPath(import.meta.url)), "../../docs/screenshots");
const TRAFFIC_ROUNDS = 90;
const ROUND_MS = 500;

/** @param {number} low @param {number} high */
const between = (low, high) => low + Math.floor(Math.random() * (high - low + 1));

/**
 * One round: some enqueues, then leases, most of them acked, on two queues.
 * @param {import("../tests/harness.mjs").RunningServer} server @param {number} round
 */
async function trafficRound(server, round) {
  for (const [queue, load] of /** @type {const} */ ([["emails", 10], ["reports", 4]])) {
    const wave = Math.round(load * (1.2 + Math.sin(round / 8)));
    const jobs = Array.from({ length: between(1, wave + 1) }, (_, i) => ({ payload: { round, i }, priority: between(0, 9) }));
    await server.api("POST", `/v1/queues/${queue}/enqueue_batch`, { jobs });
    const { jobs: leased } = await server.api("POST", `/v1/queues/${queue}/lease`, { max_jobs: between(1, load), visibility_ms: 60_000 });
    const acks = leased.filter((/** @type {unknown} */ _, /** @type {number} */ i) => i % 7 !== 6);
    if (acks.length) await server.api("POST", "/v1/ack_batch", { acks: acks.map((/** @type {any} */ j) => ({ job_id: j.id, lease_id: j.lease_id })) });
  }
}

const server = await startServer();
try {
  await seed(server);
  const browser = await launchBrowser();
  const overview = await newPage(browser);
  const queue = await newPage(browser);
  await overview.goto(`${server.url}/ui/`);
  await queue.goto(`${server.url}/ui/queue/?name=emails`);
  for (let round = 0; round < TRAFFIC_ROUNDS; round++) {
    await trafficRound(server, round);
    await new Promise((r) => setTimeout(r, ROUND_MS));
  }
  mkdirSync(OUT, { recursive: true });
  await overview.screenshot({ path: join(OUT, "overview.png") });
  await queue.screenshot({ path: join(OUT, "queue.png") });
  await overview.goto(`${server.url}/ui/dlq/?name=webhooks`);
  await overview.locator("tr[data-job-id]").nth(2).waitFor();
  await overview.screenshot({ path: join(OUT, "dlq.png") });
  const dead = await server.api("GET", "/v1/queues/webhooks/dlq?limit=1");
  await overview.goto(`${server.url}/ui/job/?id=${dead.jobs[0].id}`);
  await overview.getByTestId("payload").waitFor();
  await overview.screenshot({ path: join(OUT, "job.png") });
  await browser.close();
} finally {
  await server.stop();
}
