// The REST API's JSON shapes (src/rivetq/wire.py), as the UI reads them.

export type JobState = "ready" | "delayed" | "inflight" | "dead";

export const JOB_STATES: readonly JobState[] = ["ready", "delayed", "inflight", "dead"];

export interface QueueSummary {
  name: string;
  ready: number;
  delayed: number;
  inflight: number;
  dlq: number;
  paused: boolean;
  enqueued_total: number;
  leased_total: number;
  acked_total: number;
  nacked_total: number;
}

export interface RateLimitView {
  capacity: number;
  refill_rate: number;
  exists: boolean;
}

export interface ScheduleView {
  name: string;
  queue: string;
  cron: string | null;
  interval_ms: number | null;
  timezone: string;
  payload: unknown;
  priority: number;
  max_retries: number;
  headers: Record<string, string>;
  catchup: "skip" | "all";
  paused: boolean;
  created_at: string;
  next_run_at: string;
  last_run_at: string | null;
  runs_total: number;
}

export interface ScheduleBody {
  queue: string;
  payload: unknown;
  cron?: string;
  interval_ms?: number;
  timezone?: string;
  headers?: Record<string, string>;
}

export interface ConcurrencyLimitView {
  max_inflight: number;
  exists: boolean;
}

export interface QueueStats {
  queue: string;
  ready: number;
  delayed: number;
  inflight: number;
  dlq: number;
  enqueued_total: number;
  leased_total: number;
  acked_total: number;
  nacked_total: number;
  paused: boolean;
  rate_limit: RateLimitView; // "exists": false when the queue has none
  concurrency_limit: ConcurrencyLimitView; // the same
}

export interface JobView {
  id: string;
  queue: string;
  payload: unknown;
  priority: number;
  state: JobState;
  tries: number;
  max_retries: number;
  eta: string;
  created_at: string;
  idempotency_key?: string | null;
  last_error?: string | null;
  lease_id?: string | null;
  lease_expires_at?: string | null;
  headers?: Record<string, string>;
}

export interface JobPage {
  jobs: JobView[];
  next_cursor: string | null;
}

export interface EnqueueBody {
  payload: unknown;
  priority?: number;
  delay_ms?: number;
  max_retries?: number;
  idempotency_key?: string;
  headers?: Record<string, string>;
}

export interface EnqueueResult {
  job_id: string;
  duplicate?: boolean;
}
