// Seed data over the REST API, as producers and workers would create it.

/**
 * emails: 5 waiting jobs (one delayed), reports: 2 jobs, webhooks: 3 dead jobs.
 * @param {import("./harness.mjs").RunningServer} server @param {string} [token]
 * @returns {Promise<{ deadIds: string[] }>}
 */
export async function seed(server, token) {
  const enqueue = (/** @type {string} */ queue, /** @type {object} */ body) =>
    server.api("POST", `/v1/queues/${queue}/enqueue`, body, token);
  for (let i = 0; i < 4; i++) {
    await enqueue("emails", { payload: { to: `user${i}@example.test`, template: "welcome" }, priority: 3 + i });
  }
  await enqueue("emails", { payload: { to: "later@example.test", template: "digest" }, delay_ms: 3_600_000 });
  await enqueue("reports", { payload: { report: "daily", day: "2026-11-27" } });
  await enqueue("reports", { payload: { report: "weekly" }, priority: 8 });
  const errors = ["HTTP 500 from https://hooks.example.test/a", "read timeout after 30s", "HTTP 410 Gone"];
  await killJobs(server, "webhooks", errors, (i) => ({ hook: `hook-${i}`, event: "order.created" }), token);
  const dead = await server.api("GET", "/v1/queues/webhooks/dlq?limit=10", undefined, token);
  return { deadIds: dead.jobs.map((/** @type {{ id: string }} */ j) => j.id) };
}

/**
 * Enqueues one job per reason into `queue` and fails each for good (no retries), one at a time.
 * @param {import("./harness.mjs").RunningServer} server @param {string} queue @param {string[]} reasons
 * @param {(i: number) => unknown} [payload] @param {string} [token]
 * @returns {Promise<string[]>} the dead jobs' ids, in the order of `reasons`
 */
export async function killJobs(server, queue, reasons, payload = (i) => ({ n: i }), token) {
  const ids = [];
  for (const [i, reason] of reasons.entries()) {
    await server.api("POST", `/v1/queues/${queue}/enqueue`, { payload: payload(i), max_retries: 0 }, token);
    const leased = await server.api("POST", `/v1/queues/${queue}/lease`, { max_jobs: 1 }, token);
    const job = leased.jobs[0];
    const nack = await server.api("POST", "/v1/nack", { job_id: job.id, lease_id: job.lease_id, reason }, token);
    if (nack.state !== "dead") throw new Error(`seed: nack left the job ${nack.state}`);
    ids.push(job.id);
  }
  return ids;
}

/**
 * Makes `count` dead jobs in `queue` fast: batches of up to 1,000 enqueued and leased at once,
 * then nacked for good, 50 at a time. Job n has the payload { n, tag: "needle-n" } and the
 * error "poison pill n".
 * @param {import("./harness.mjs").RunningServer} server @param {string} queue @param {number} count
 */
export async function killMany(server, queue, count) {
  for (let start = 0; start < count; start += 1000) {
    const jobs = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
      payload: { n: start + i, tag: `needle-${start + i}` },
      max_retries: 0,
    }));
    await server.api("POST", `/v1/queues/${queue}/enqueue_batch`, { jobs });
    const { jobs: leased } = await server.api("POST", `/v1/queues/${queue}/lease`, { max_jobs: jobs.length });
    if (leased.length !== jobs.length) throw new Error(`seed: leased ${leased.length} of ${jobs.length}`);
    for (let i = 0; i < leased.length; i += 50) {
      const nacks = leased.slice(i, i + 50).map((/** @type {{ id: string, lease_id: string, payload: { n: number } }} */ job) =>
        server.api("POST", "/v1/nack", { job_id: job.id, lease_id: job.lease_id, reason: `poison pill ${job.payload.n}` }),
      );
      await Promise.all(nacks);
    }
  }
}
