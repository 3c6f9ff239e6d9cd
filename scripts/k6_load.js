// The seed's k6 load test: ramp to 10, then 50 virtual users; each iteration enqueues a
// job with a random priority, leases one job with 30 s visibility, and acks it.
//
//   k6 run scripts/k6_load.js                       # API_URL defaults to http://localhost:8080
//   k6 run -e API_URL=http://127.0.0.1:8080 -e RIVETQ_TOKEN=secret scripts/k6_load.js
//
// Without k6, `rivetq-bench k6` runs the same scenario (see docs/readme/load.md).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';

const API_URL = __ENV.API_URL || 'http://localhost:8080';
const QUEUE = 'load-test';
const HEADERS = { 'Content-Type': 'application/json' };
if (__ENV.RIVETQ_TOKEN) {
  HEADERS.Authorization = `Bearer ${__ENV.RIVETQ_TOKEN}`;
}
const PARAMS = { headers: HEADERS };

const enqueueSuccess = new Rate('enqueue_success');
const leaseSuccess = new Rate('lease_success');
const ackSuccess = new Rate('ack_success');
const enqueueLatency = new Trend('enqueue_latency', true);
const leaseLatency = new Trend('lease_latency', true);
const ackLatency = new Trend('ack_latency', true);

export const options = {
  stages: [
    { duration: '30s', target: 10 },
    { duration: '1m', target: 10 },
    { duration: '30s', target: 50 },
    { duration: '1m', target: 50 },
    { duration: '30s', target: 0 },
  ],
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  thresholds: {
    enqueue_success: ['rate>0.95'],
    lease_success: ['rate>0.95'],
    ack_success: ['rate>0.95'],
    lease_latency: ['p(95)<500', 'p(99)<1000'],
  },
};

export default function () {
  const job = {
    payload: { task: 'load-test', vu: __VU, iter: __ITER, timestamp: Date.now() },
    priority: Math.floor(Math.random() * 10),
    max_retries: 3,
  };
  const enqueued = http.post(`${API_URL}/v1/queues/${QUEUE}/enqueue`, JSON.stringify(job), PARAMS);
  enqueueLatency.add(enqueued.timings.duration);
  enqueueSuccess.add(check(enqueued, { 'enqueued (201)': (r) => r.status === 201 }));

  sleep(0.1);

  const leased = http.post(
    `${API_URL}/v1/queues/${QUEUE}/lease`,
    JSON.stringify({ max_jobs: 1, visibility_ms: 30000 }),
    PARAMS,
  );
  leaseLatency.add(leased.timings.duration);
  const leaseOk = check(leased, { 'leased (200)': (r) => r.status === 200 });
  leaseSuccess.add(leaseOk);
  if (!leaseOk) {
    return;
  }
  const jobs = leased.json('jobs') || [];
  if (jobs.length === 0) {
    return;
  }

  sleep(Math.random() * 0.5);

  const acked = http.post(
    `${API_URL}/v1/ack`,
    JSON.stringify({ job_id: jobs[0].id, lease_id: jobs[0].lease_id }),
    PARAMS,
  );
  ackLatency.add(acked.timings.duration);
  ackSuccess.add(check(acked, { 'acked (200)': (r) => r.status === 200 }));

  sleep(0.5);
}

function percentiles(name, data) {
  const values = data.metrics[name] ? data.metrics[name].values : {};
  const ms = (key) => (values[key] === undefined ? '-' : `${values[key].toFixed(2)}ms`);
  return `${name}: p50 ${ms('med')}, p95 ${ms('p(95)')}, p99 ${ms('p(99)')}`;
}

function rate(name, data) {
  const metric = data.metrics[name];
  return metric ? `${(metric.values.rate * 100).toFixed(2)}%` : '-';
}

export function handleSummary(data) {
  const lines = [
    'Load Test Summary',
    '==================================================',
    `Enqueue Success Rate: ${rate('enqueue_success', data)}`,
    `Lease Success Rate: ${rate('lease_success', data)}`,
    `Ack Success Rate: ${rate('ack_success', data)}`,
    percentiles('enqueue_latency', data),
    percentiles('lease_latency', data),
    percentiles('ack_latency', data),
    '',
  ];
  return { stdout: lines.join('\n'), 'summary.json': JSON.stringify(data, null, 2) };
}
