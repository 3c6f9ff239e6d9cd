import { request } from "./http";
import type {
  ConcurrencyLimitView,
  EnqueueBody,
  EnqueueResult,
  JobPage,
  JobState,
  JobView,
  QueueStats,
  QueueSummary,
  RateLimitView,
  ScheduleBody,
  ScheduleView,
} from "./types";

const q = (queue: string) => `/v1/queues/${encodeURIComponent(queue)}`;
const s = (name: string) => `/v1/schedules/${encodeURIComponent(name)}`;

function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const api = {
  listQueues: () => request<{ summaries: QueueSummary[] }>("GET", "/v1/queues").then((r) => r.summaries),
  stats: (queue: string) => request<QueueStats>("GET", `${q(queue)}/stats`),
  listJobs: (queue: string, state: JobState | null, limit: number, cursor: string | null) =>
    request<JobPage>("GET", `${q(queue)}/jobs${query({ state, limit, cursor })}`),
  enqueue: (queue: string, body: EnqueueBody) =>
    request<EnqueueResult>("POST", `${q(queue)}/enqueue`, body),
  getRateLimit: (queue: string) => request<RateLimitView>("GET", `${q(queue)}/rate_limit`),
  setRateLimit: (queue: string, capacity: number, refillRate: number) =>
    request<unknown>("POST", `${q(queue)}/rate_limit`, { capacity, refill_rate: refillRate }),
  deleteRateLimit: (queue: string) => request<unknown>("DELETE", `${q(queue)}/rate_limit`),
  getConcurrencyLimit: (queue: string) => request<ConcurrencyLimitView>("GET", `${q(queue)}/concurrency_limit`),
  setConcurrencyLimit: (queue: string, maxInflight: number) =>
    request<unknown>("POST", `${q(queue)}/concurrency_limit`, { max_inflight: maxInflight }),
  listSchedules: () => request<{ schedules: ScheduleView[] }>("GET", "/v1/schedules").then((r) => r.schedules),
  putSchedule: (name: string, body: ScheduleBody) => request<ScheduleView>("PUT", s(name), body),
  pauseSchedule: (name: string) => request<ScheduleView>("POST", `${s(name)}/pause`, {}),
  resumeSchedule: (name: string) => request<ScheduleView>("POST", `${s(name)}/resume`, {}),
  runSchedule: (name: string) => request<EnqueueResult>("POST", `${s(name)}/run`, {}),
  deleteSchedule: (name: string) => request<unknown>("DELETE", s(name)),
  deleteConcurrencyLimit: (queue: string) => request<unknown>("DELETE", `${q(queue)}/concurrency_limit`),
  pause: (queue: string) => request<unknown>("POST", `${q(queue)}/pause`),
  resume: (queue: string) => request<unknown>("POST", `${q(queue)}/resume`),
  purge: (queue: string) => request<{ purged: number }>("DELETE", q(queue)),
  deleteQueue: (queue: string, force: boolean) => request<{ deleted_jobs: number }>("POST", `${q(queue)}/delete`, { force }),
  listDlq: (queue: string, limit: number, cursor: string | null) =>
    request<JobPage>("GET", `${q(queue)}/dlq${query({ limit, cursor })}`),
  requeueDlq: (queue: string, jobIds: string[] | null) =>
    request<{ requeued: number }>(
      "POST",
      `${q(queue)}/dlq/requeue`,
      jobIds === null ? {} : { job_ids: jobIds },
    ),
  purgeDlq: (queue: string) => request<{ purged: number }>("DELETE", `${q(queue)}/dlq`),
  getJob: (id: string) => request<JobView>("GET", `/v1/jobs/${encodeURIComponent(id)}`),
  cancelJob: (id: string) => request<unknown>("DELETE", `/v1/jobs/${encodeURIComponent(id)}`),
};
