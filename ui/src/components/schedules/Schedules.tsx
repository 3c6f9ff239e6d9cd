"use client";

import Link from "next/link";
import { api } from "@/lib/api";
import { relativeTime } from "@/lib/format";
import { queuePath } from "@/lib/paths";
import type { ScheduleView } from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { usePoll } from "@/lib/usePoll";
import { ConfirmButton } from "../ConfirmButton";
import { Button, Card, EmptyState, ErrorBanner, LiveBadge, Notice, PageHeader, PausedBadge, Spinner } from "../ui";
import { ScheduleForm } from "./ScheduleForm";

export function Schedules() {
  const poll = usePoll(async () => ({ schedules: await api.listSchedules(), now: Date.now() }), "schedules");
  return (
    <>
      <PageHeader title="Schedules" actions={<LiveBadge failing={Boolean(poll.error)} />} />
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      <div className="space-y-6">
        <Card title="All schedules">
          {!poll.data && !poll.error && <Spinner />}
          {poll.data && poll.data.schedules.length === 0 && <EmptyState title="No schedules yet">Create one below.</EmptyState>}
          {poll.data && poll.data.schedules.length > 0 && <ScheduleTable schedules={poll.data.schedules} now={poll.data.now} onChanged={poll.refresh} />}
        </Card>
        <ScheduleForm onSaved={poll.refresh} />
      </div>
    </>
  );
}

function ScheduleTable({ schedules, now, onChanged }: { schedules: ScheduleView[]; now: number; onChanged: () => void }) {
  return (
    <table className="w-full text-left text-sm">
      <thead className="text-xs uppercase text-slate-500">
        <tr>
          <th className="py-2">Name</th>
          <th>Queue</th>
          <th>When</th>
          <th>Next run</th>
          <th>Last run</th>
          <th>Runs</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {schedules.map((schedule) => (
          <ScheduleRow key={schedule.name} schedule={schedule} now={now} onChanged={onChanged} />
        ))}
      </tbody>
    </table>
  );
}

function ScheduleRow({ schedule, now, onChanged }: { schedule: ScheduleView; now: number; onChanged: () => void }) {
  const action = useAction();
  const act = (call: () => Promise<string>) => action.run(call).then((ok) => ok && onChanged());
  const name = schedule.name;
  return (
    <tr className="border-t border-slate-100 align-top" data-schedule={name}>
      <td className="py-2 font-medium">
        {name} <PausedBadge paused={schedule.paused} />
      </td>
      <td>
        <Link className="text-indigo-600 hover:underline" href={queuePath(schedule.queue)}>
          {schedule.queue}
        </Link>
      </td>
      <td>
        <code className="text-xs">{schedule.cron ?? `every ${schedule.interval_ms} ms`}</code>
        <span className="block text-xs text-slate-400">{schedule.timezone}</span>
      </td>
      <td title={schedule.next_run_at}>{schedule.paused ? "paused" : relativeTime(schedule.next_run_at, now)}</td>
      <td title={schedule.last_run_at ?? ""}>{schedule.last_run_at ? relativeTime(schedule.last_run_at, now) : "never"}</td>
      <td>{schedule.runs_total}</td>
      <td className="space-x-2 whitespace-nowrap text-right">
        {action.error ? <ErrorBanner error={action.error} /> : action.notice && <Notice>{action.notice}</Notice>}
        {schedule.paused ? (
          <Button disabled={action.busy} onClick={() => act(() => api.resumeSchedule(name).then(() => `Resumed ${name}.`))}>
            Resume
          </Button>
        ) : (
          <Button disabled={action.busy} onClick={() => act(() => api.pauseSchedule(name).then(() => `Paused ${name}.`))}>
            Pause
          </Button>
        )}
        <Button disabled={action.busy} onClick={() => act(() => api.runSchedule(name).then((r) => `Enqueued job ${r.job_id}.`))}>
          Run now
        </Button>
        <ConfirmButton label="Delete" title={`Delete schedule “${name}”?`} busy={action.busy} onConfirm={() => act(() => api.deleteSchedule(name).then(() => `Deleted ${name}.`))}>
          The schedule stops; jobs it already enqueued stay in their queue.
        </ConfirmButton>
      </td>
    </tr>
  );
}
