// Throughput computed in the browser from successive polls: the API exposes monotonic
// totals (enqueued_total, acked_total, ...) in a queue's stats and in the queue list,
// and the UI differentiates them.

const WINDOW_MS = 5 * 60 * 1000;

export type Counter = "enqueued_total" | "leased_total" | "acked_total" | "nacked_total";

/** A queue's totals at one moment (a QueueStats or a QueueSummary has them). */
export type Totals = Record<Counter, number>;

interface Sample {
  at: number;
  totals: Totals;
}

/** Per-second rates, oldest first, one point per poll interval. */
export type RateSeries = Record<Counter, number[]>;

const COUNTERS: readonly Counter[] = ["enqueued_total", "leased_total", "acked_total", "nacked_total"];

function emptySeries(): RateSeries {
  return { enqueued_total: [], leased_total: [], acked_total: [], nacked_total: [] };
}

export class RateHistory {
  private readonly samples = new Map<string, Sample[]>();

  record(queue: string, source: Totals, at: number): void {
    const kept = (this.samples.get(queue) ?? []).filter((s) => at - s.at <= WINDOW_MS);
    const totals = Object.fromEntries(COUNTERS.map((c) => [c, source[c]])) as Totals;
    kept.push({ at, totals });
    this.samples.set(queue, kept);
  }

  series(queue: string): RateSeries {
    const samples = this.samples.get(queue) ?? [];
    const series = emptySeries();
    for (let i = 1; i < samples.length; i++) {
      const [before, after] = [samples[i - 1]!, samples[i]!];
      const seconds = Math.max((after.at - before.at) / 1000, 0.001);
      for (const counter of COUNTERS) {
        // A restarted in-memory server starts its totals at zero again: never a negative rate.
        const delta = Math.max(after.totals[counter] - before.totals[counter], 0);
        series[counter].push(delta / seconds);
      }
    }
    return series;
  }
}

export function latest(values: number[]): number {
  return values.length ? values[values.length - 1]! : 0;
}

export function sumSeries(all: number[][]): number[] {
  const length = Math.max(0, ...all.map((s) => s.length));
  return Array.from({ length }, (_, i) =>
    all.reduce((sum, s) => sum + (s[s.length - length + i] ?? 0), 0),
  );
}
