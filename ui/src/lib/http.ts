import { readToken, reportUnauthorized } from "./token";

// Same origin in production (rivetqd serves the UI); a running server's URL in `npm run dev`.
const BASE_URL = (process.env.NEXT_PUBLIC_RIVETQ_URL ?? "").replace(/\/$/, "");

/** An error the API reported (`{"error": {"code", "message"}}`) or a failed request. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

function headersFor(method: Method, token: string | null): Record<string, string> {
  const headers: Record<string, string> = { Accept: "application/json" };
  // The server refuses state-changing calls without this header (SPEC §3).
  if (method !== "GET") headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) {
      return new ApiError(response.status, body.error.code ?? "error", body.error.message);
    }
  } catch {
    // Not JSON: a proxy or a crash; show the status and the raw text below.
  }
  const detail = text.trim().slice(0, 200) || response.statusText;
  return new ApiError(response.status, "http_error", `HTTP ${response.status}: ${detail}`);
}

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const token = readToken();
  let response: Response;
  try {
    response = await fetch(`${BASE_URL}${path}`, {
      method,
      headers: headersFor(method, token),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ApiError(0, "network", `Cannot reach the RivetQ server: ${reason}`);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401) reportUnauthorized(token);
    throw error;
  }
  return (await response.json()) as T;
}

/** The API's 404 for a job id: a worker acked the job, or someone cancelled or deleted it. */
export function isJobGone(error: unknown): boolean {
  return error instanceof ApiError && error.code === "job_not_found";
}

/** The API's 404 for a queue name: the queue holds no jobs and no config (e.g. after an in-memory server restarted). */
export function isQueueGone(error: unknown): boolean {
  return error instanceof ApiError && error.code === "queue_not_found";
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
