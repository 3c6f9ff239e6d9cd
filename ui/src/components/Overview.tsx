"use client";

import Link from "next/link";
import { useRef } from "react";
import { api } from "@/lib/api";
import { formatCount, formatRate } from "@/lib/format";
import { dlqPath, queuePath } from "@/lib/paths";
import { latest, RateHistory, sumSeries, type RateSeries } from "@/lib/rates";
import type { QueueSummary } from "@/lib/types";
import { usePoll } from "@/lib/usePoll";
import { Sparkline } from "./charts";
import { Card, EmptyState, ErrorBanner, LiveBadge, PageHeader, PausedBadge, Spinner, Stat } from "./ui";

interface QueueRow {
  summary: QueueSummary;
  rates: RateSeries;
}

const ENQUEUE_COLOR = "#6366f1";
const ACK_COLOR = "#10b981";

export function Overview() {
  const history = useRef<RateHistory | null>(null);
  const poll = usePoll(async (): Promise<QueueRow[]> => {
    const queues = await api.listQueues(); // one call, whatever the number of queues: it carries the totals
    const rates = (history.current ??= new RateHistory());
    const now = Date.now();
    queues.forEach((q) => rates.record(q.name, q, now));
    return queues.map((summary) => ({ summary, rates: rates.series(summary.name) }));
  }, "overview");

  return (
    <>
      <PageHeader title="Queues" actions={<LiveBadge failing={Boolean(poll.error)} />} />
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      {poll.data ? <OverviewBody rows={poll.data} /> : !poll.error && <Spinner />}
    </>
  );
}

function OverviewBody({ rows }: { rows: QueueRow[] }) {
  if (rows.length === 0) {
    return (
      <EmptyState title="No queues yet">
        Enqueue a job to create one, e.g.{" "}
        <code className="rounded bg-slate-100 px-1">rivetqctl enqueue emails &apos;{"{"}&quot;to&quot;: &quot;a@b.c&quot;{"}"}&apos;</code>
      </EmptyState>
    );
  }
  const sum = (key: "ready" | "delayed" | "inflight" | "dlq") => rows.reduce((n, r) => n + r.summary[key], 0);
  const enqueue = sumSeries(rows.map((r) => r.rates.enqueued_total));
  const ack = sumSeries(rows.map((r) => r.rates.acked_total));
  return (
    <div className="space-y-6">
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
        <Stat label="Ready" value={formatCount(sum("ready"))} />
        <Stat label="Delayed" value={formatCount(sum("delayed"))} />
        <Stat label="In flight" value={formatCount(sum("inflight"))} />
        <Stat label="Dead" value={formatCount(sum("dlq"))} tone={sum("dlq") ? "text-rose-600" : undefined} />
        <Stat label="Enqueue rate" value={formatRate(latest(enqueue))} tone="text-indigo-600" />
        <Stat label="Ack rate" value={formatRate(latest(ack))} tone="text-emerald-600" />
      </div>
      <Card title={`${rows.length} ${rows.length === 1 ? "queue" : "queues"}`}>
        <QueueTable rows={rows} />
      </Card>
    </div>
  );
}

function QueueTable({ rows }: { rows: QueueRow[] }) {
  return (
    <div className="-m-4 overflow-x-auto">
      <table className="min-w-full text-sm" data-testid="queue-table">
        <thead className="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            {["Queue", "Status", "Ready", "Delayed", "In flight", "DLQ", "Enqueue rate", "Ack rate"].map((h) => (
              <th key={h} className="px-4 py-2 font-medium">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rows.map(({ summary, rates }) => (
            <tr key={summary.name} className="hover:bg-slate-50" data-queue={summary.name}>
              <td className="px-4 py-2.5 font-medium">
                <Link className="text-indigo-600 hover:underline" href={queuePath(summary.name)}>
                  {summary.name}
                </Link>
              </td>
              <td className="px-4 py-2.5">
                <PausedBadge paused={summary.paused} />
              </td>
              <Num value={summary.ready} />
              <Num value={summary.delayed} />
              <Num value={summary.inflight} />
              <td className="px-4 py-2.5 tabular-nums">
                <Link href={dlqPath(summary.name)} className={summary.dlq ? "font-semibold text-rose-600 hover:underline" : "text-slate-500 hover:underline"}>
                  {formatCount(summary.dlq)}
                </Link>
              </td>
              <RateCell values={rates.enqueued_total} color={ENQUEUE_COLOR} label={`${summary.name} enqueue rate`} />
              <RateCell values={rates.acked_total} color={ACK_COLOR} label={`${summary.name} ack rate`} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Num({ value }: { value: number }) {
  return <td className="px-4 py-2.5 tabular-nums text-slate-700">{formatCount(value)}</td>;
}

function RateCell({ values, color, label }: { values: number[]; color: string; label: string }) {
  return (
    <td className="px-4 py-2.5">
      <div className="flex items-center gap-2">
        <Sparkline values={values.slice(-60)} color={color} label={label} />
        <span className="w-14 text-right text-xs tabular-nums text-slate-600">{formatRate(latest(values))}</span>
      </div>
    </td>
  );
}
