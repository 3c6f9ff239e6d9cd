"use client";

import Link from "next/link";
import { useState, type ReactNode } from "react";
import { api } from "@/lib/api";
import { prettyJson, relativeTime } from "@/lib/format";
import { isJobGone } from "@/lib/http";
import { dlqPath, overviewPath, queuePath } from "@/lib/paths";
import type { JobView } from "@/lib/types";
import { Incomplete, useAction, type Action } from "@/lib/useAction";
import { usePoll } from "@/lib/usePoll";
import { ConfirmButton } from "./ConfirmButton";
import { Button, Card, ErrorBanner, Notice, PageHeader, Spinner, StateBadge } from "./ui";

export function JobDetail({ id }: { id: string }) {
  const [cancelled, setCancelled] = useState(false);
  const action = useAction();
  // Gone (acked, cancelled or deleted elsewhere): the banner says so, the last data is
  // stale, and polling stops (a job id never comes back).
  const poll = usePoll(async () => ({ job: await api.getJob(id), now: Date.now() }), id, { isFinal: isJobGone });
  const gone = isJobGone(poll.error);
  const job = gone ? undefined : poll.data?.job;
  const queue = poll.data?.job.queue;
  const crumbs = [{ href: overviewPath(), label: "Queues" }, ...(queue ? [{ href: queuePath(queue), label: queue }] : [])];
  // An action's own "not found" would repeat the banner's.
  const actionError = gone && isJobGone(action.error) ? null : action.error;

  if (cancelled) {
    return (
      <>
        <PageHeader crumbs={crumbs} title="Job cancelled" />
        <Notice>
          Job <code>{id}</code> was cancelled and deleted.
        </Notice>
      </>
    );
  }
  return (
    <>
      <PageHeader
        crumbs={crumbs}
        title={<span className="wrap-anywhere font-mono text-xl">{id}</span>}
        actions={
          <>
            {actionError ? <ErrorBanner error={actionError} /> : action.notice && <Notice tone={action.tone}>{action.notice}</Notice>}
            {job && <JobActions job={job} action={action} onCancelled={() => setCancelled(true)} onChanged={poll.refresh} />}
          </>
        }
      />
      <ErrorBanner className="mb-4" error={poll.error} onRetry={gone ? undefined : poll.refresh} />
      {!poll.data && !poll.error && <Spinner />}
      {job && poll.data && <JobBody job={job} now={poll.data.now} />}
    </>
  );
}

function JobBody({ job, now }: { job: JobView; now: number }) {
  // grid-cols-1 (minmax(0, 1fr)) and min-w-0: a long payload line scrolls inside its box
  // instead of widening the page at every width.
  return (
    <div className="grid grid-cols-1 gap-6 lg:grid-cols-3">
      <Card title="Details" className="min-w-0 lg:col-span-1">
        <dl className="space-y-3 text-sm">
          <Row label="Queue">
            <Link className="text-indigo-600 hover:underline" href={queuePath(job.queue)}>
              {job.queue}
            </Link>
          </Row>
          <Row label="State">
            <StateBadge state={job.state} />
          </Row>
          <Row label="Priority">{job.priority}</Row>
          <Row label="Tries">
            {job.tries} failed · max retries {job.max_retries}
          </Row>
          <Row label="ETA">
            <Time iso={job.eta} now={now} />
          </Row>
          <Row label="Created">
            <Time iso={job.created_at} now={now} />
          </Row>
          {job.lease_expires_at && (
            <Row label="Lease expires">
              <Time iso={job.lease_expires_at} now={now} />
            </Row>
          )}
          {job.lease_id && <Row label="Lease id"><code className="break-all text-xs">{job.lease_id}</code></Row>}
          {job.idempotency_key && <Row label="Idempotency key"><code className="break-all text-xs">{job.idempotency_key}</code></Row>}
        </dl>
      </Card>
      <div className="min-w-0 space-y-6 lg:col-span-2">
        {job.last_error && (
          <Card title="Last error">
            <pre className="overflow-x-auto whitespace-pre-wrap wrap-anywhere rounded-md bg-rose-50 p-3 font-mono text-xs text-rose-800" data-testid="last-error">
              {job.last_error}
            </pre>
          </Card>
        )}
        <Headers headers={job.headers ?? {}} />
        <Card title="Payload">
          <pre className="max-h-[32rem] overflow-auto rounded-md bg-slate-900 p-4 font-mono text-xs leading-relaxed text-slate-100" data-testid="payload">
            {prettyJson(job.payload)}
          </pre>
        </Card>
      </div>
    </div>
  );
}

function Headers({ headers }: { headers: Record<string, string> }) {
  const entries = Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return null;
  return (
    <Card title="Headers">
      <dl className="space-y-2 text-sm" data-testid="headers">
        {entries.map(([name, value]) => (
          <Row key={name} label={name}>
            <code className="break-all text-xs">{value}</code>
          </Row>
        ))}
      </dl>
    </Card>
  );
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid grid-cols-3 gap-2">
      <dt className="text-slate-500">{label}</dt>
      <dd className="col-span-2 wrap-anywhere text-slate-900">{children}</dd>
    </div>
  );
}

function Time({ iso, now }: { iso: string; now: number }) {
  return (
    <span title={iso}>
      {relativeTime(iso, now)} <span className="block text-xs text-slate-400">{iso}</span>
    </span>
  );
}

function JobActions({ job, action, onCancelled, onChanged }: { job: JobView; action: Action; onCancelled: () => void; onChanged: () => void }) {
  // Whatever the outcome, the page then shows the job as it is now (or that it is gone).
  const requeue = () =>
    action
      .run(() =>
        api.requeueDlq(job.queue, [job.id]).then(({ requeued }) =>
          requeued > 0 ? "Requeued: the job is ready again." : new Incomplete("Nothing was requeued: the job is no longer in the dead letter queue."),
        ),
      )
      .then(onChanged);
  return (
    <>
      {job.state === "dead" && (
        <>
          <Link className="wrap-anywhere text-sm text-slate-600 hover:underline" href={dlqPath(job.queue)}>
            Dead letters of {job.queue}
          </Link>
          <Button variant="primary" disabled={action.busy} onClick={requeue}>
            Requeue
          </Button>
        </>
      )}
      {job.state === "inflight" && <span className="text-xs text-slate-500">A leased job cannot be cancelled.</span>}
      <ConfirmButton
        label="Cancel job"
        title="Cancel this job?"
        busy={action.busy}
        disabled={job.state === "inflight"}
        onConfirm={() => action.run(() => api.cancelJob(job.id)).then((ok) => (ok ? onCancelled() : onChanged()))}
      >
        The job is deleted and will never run{job.state === "dead" ? " again" : ""}.
      </ConfirmButton>
    </>
  );
}
