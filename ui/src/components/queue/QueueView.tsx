"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { api } from "@/lib/api";
import { formatCount, formatJobs } from "@/lib/format";
import { isQueueGone } from "@/lib/http";
import { dlqPath, overviewPath } from "@/lib/paths";
import { RateHistory, type RateSeries } from "@/lib/rates";
import type { QueueStats } from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { POLL_MS, usePoll } from "@/lib/usePoll";
import { ConfirmButton } from "../ConfirmButton";
import { ThroughputChart } from "../charts";
import { Button, buttonClass, Card, ErrorBanner, LiveBadge, Notice, PageHeader, PausedBadge, Spinner, Stat } from "../ui";
import { ConcurrencyLimitEditor } from "./ConcurrencyLimitEditor";
import { EnqueueForm } from "./EnqueueForm";
import { JobsBrowser } from "./JobsBrowser";
import { RateLimitEditor } from "./RateLimitEditor";

export function QueueView({ queue }: { queue: string }) {
  const [jobsVersion, setJobsVersion] = useState(0);
  const poll = useQueueStats(queue);
  const changed = () => {
    poll.refresh();
    setJobsVersion((v) => v + 1);
  };
  const stats = poll.data?.stats;

  return (
    <>
      <PageHeader
        crumbs={[{ href: overviewPath(), label: "Queues" }]}
        title={
          <span className="flex items-center gap-3">
            {queue} {stats && <PausedBadge paused={stats.paused} />}
          </span>
        }
        actions={
          <>
            <LiveBadge failing={Boolean(poll.error)} />
            {stats && <QueueActions stats={stats} onChanged={changed} />}
          </>
        }
      />
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      {!poll.data && !poll.error && <Spinner />}
      {poll.data && (
        <div className="space-y-6">
          <StatsRow stats={poll.data.stats} />
          <ThroughputCard rates={poll.data.rates} />
          <div className="grid gap-6 lg:grid-cols-2">
            <EnqueueForm queue={queue} onEnqueued={changed} />
            <RateLimitEditor queue={queue} />
            <ConcurrencyLimitEditor queue={queue} />
          </div>
          <JobsBrowser queue={queue} version={jobsVersion} />
        </div>
      )}
    </>
  );
}

/**
 * The queue's stats, polled, with the per-second rates derived from successive polls. None
 * while the queue is not found (an in-memory server restarted empty): the old ones are stale.
 */
function useQueueStats(queue: string) {
  const history = useRef<RateHistory | null>(null);
  return usePoll(async () => {
    const stats = await api.stats(queue);
    const rates = (history.current ??= new RateHistory());
    rates.record(stats.queue, stats, Date.now());
    return { stats, rates: rates.series(queue) };
  }, queue, { dropsData: isQueueGone });
}

function ThroughputCard({ rates }: { rates: RateSeries }) {
  return (
    <Card title="Throughput">
      <ThroughputChart
        intervalMs={POLL_MS}
        series={[
          { name: "Enqueued", color: "#6366f1", values: rates.enqueued_total },
          { name: "Leased", color: "#0ea5e9", values: rates.leased_total },
          { name: "Acked", color: "#10b981", values: rates.acked_total },
          { name: "Nacked", color: "#f43f5e", values: rates.nacked_total },
        ]}
      />
    </Card>
  );
}

function StatsRow({ stats }: { stats: QueueStats }) {
  return (
    <div className="grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-8">
      <Stat label="Ready" value={formatCount(stats.ready)} />
      <Stat label="Delayed" value={formatCount(stats.delayed)} />
      <Stat label="In flight" value={formatCount(stats.inflight)} />
      <Stat label="Dead" value={<Link href={dlqPath(stats.queue)}>{formatCount(stats.dlq)}</Link>} tone={stats.dlq ? "text-rose-600" : undefined} />
      <Stat label="Enqueued" value={formatCount(stats.enqueued_total)} tone="text-slate-600" />
      <Stat label="Leased" value={formatCount(stats.leased_total)} tone="text-slate-600" />
      <Stat label="Acked" value={formatCount(stats.acked_total)} tone="text-slate-600" />
      <Stat label="Nacked" value={formatCount(stats.nacked_total)} tone="text-slate-600" />
    </div>
  );
}

function QueueActions({ stats, onChanged }: { stats: QueueStats; onChanged: () => void }) {
  const action = useAction();
  const router = useRouter();
  const act = (call: () => Promise<string>) => action.run(call).then((ok) => ok && onChanged());
  const total = stats.ready + stats.delayed + stats.inflight + stats.dlq;
  return (
    <>
      {action.error ? <ErrorBanner error={action.error} /> : action.notice && <Notice>{action.notice}</Notice>}
      <Link className={buttonClass()} href={dlqPath(stats.queue)}>
        Dead letters ({formatCount(stats.dlq)})
      </Link>
      {stats.paused ? (
        <Button variant="primary" disabled={action.busy} onClick={() => act(() => api.resume(stats.queue).then(() => "Queue resumed."))}>
          Resume
        </Button>
      ) : (
        <Button disabled={action.busy} onClick={() => act(() => api.pause(stats.queue).then(() => "Queue paused: leases return nothing."))}>
          Pause
        </Button>
      )}
      <ConfirmButton
        label="Purge queue"
        title={`Purge queue “${stats.queue}”?`}
        busy={action.busy}
        onConfirm={() => act(() => api.purge(stats.queue).then((r) => `Purged ${formatCount(r.purged)} jobs.`))}
      >
        This deletes all {formatCount(total)} jobs of this queue (ready, delayed, in flight and dead). It cannot be undone.
      </ConfirmButton>
      <ConfirmButton
        label="Delete queue"
        title={`Delete queue “${stats.queue}”?`}
        busy={action.busy}
        onConfirm={() =>
          action
            .run(() => api.deleteQueue(stats.queue, stats.inflight > 0).then(() => "Queue deleted."))
            .then((ok) => ok && router.push(overviewPath()))
        }
      >
        This removes the queue entirely: its {formatJobs(total)} (dead letters too), its settings (pause, rate limit,
        retry policy) and its counters and metrics. It then no longer appears anywhere until a job is enqueued to it again.
        {stats.inflight > 0 && ` In flight now: ${formatJobs(stats.inflight)}, whose workers' acks will fail.`} It
        cannot be undone.
      </ConfirmButton>
    </>
  );
}
