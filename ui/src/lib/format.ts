export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return `${Math.round(perSecond)}/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(1)}/s`;
  return `${perSecond.toFixed(2)}/s`;
}

export function formatCount(value: number): string {
  return value.toLocaleString("en-US");
}

/** "1 job", "1,234 jobs". */
export function formatJobs(count: number): string {
  return `${formatCount(count)} ${count === 1 ? "job" : "jobs"}`;
}

const UNITS: [number, string][] = [
  [86_400_000, "d"],
  [3_600_000, "h"],
  [60_000, "m"],
  [1000, "s"],
];

export function formatDuration(ms: number): string {
  for (const [size, unit] of UNITS) {
    if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  }
  return `${ms}ms`;
}

/** "in 12s" or "3m ago" relative to now; the exact time goes in a title attribute. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = at - now;
  if (Math.abs(delta) < 1000) return "now";
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
