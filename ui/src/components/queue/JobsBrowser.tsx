"use client";

import { useState, type KeyboardEvent } from "react";
import { api } from "@/lib/api";
import type { JobState } from "@/lib/types";
import { useCursorPages } from "@/lib/useCursorPages";
import { usePoll } from "@/lib/usePoll";
import { JobsTable } from "../JobsTable";
import { Pager } from "../Pager";
import { Card, EmptyState, ErrorBanner, Spinner } from "../ui";

const PAGE_SIZE = 20;

const TABS: { state: JobState | null; label: string }[] = [
  { state: null, label: "All" },
  { state: "ready", label: "Ready" },
  { state: "delayed", label: "Delayed" },
  { state: "inflight", label: "In flight" },
  { state: "dead", label: "Dead" },
];

export function JobsBrowser({ queue, version }: { queue: string; version: number }) {
  const [state, setState] = useState<JobState | null>(null);
  const pages = useCursorPages();
  const poll = usePoll(
    async () => ({ page: await api.listJobs(queue, state, PAGE_SIZE, pages.cursor), now: Date.now() }),
    `${queue}|${state}|${pages.cursor}|${version}`,
  );
  const choose = (next: JobState | null) => {
    setState(next);
    pages.reset();
  };
  return (
    <Card title="Jobs" actions={<Tabs current={state} onChoose={choose} />}>
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      {!poll.data && !poll.error && <Spinner />}
      {poll.data && poll.data.page.jobs.length === 0 && (
        <EmptyState title={state ? `No ${state} jobs` : "No jobs in this queue"} />
      )}
      {poll.data && poll.data.page.jobs.length > 0 && <JobsTable jobs={poll.data.page.jobs} now={poll.data.now} />}
      {poll.data && (pages.page > 1 || poll.data.page.next_cursor) && (
        <Pager
          page={pages.page}
          hasNext={Boolean(poll.data.page.next_cursor)}
          onPrevious={pages.previous}
          onNext={() => poll.data?.page.next_cursor && pages.next(poll.data.page.next_cursor)}
        />
      )}
    </Card>
  );
}

const ARROW_STEPS: Partial<Record<string, number>> = { ArrowLeft: -1, ArrowRight: 1 };

/** WAI-ARIA tabs: one Tab stop (the selected tab); Left and Right select the previous or next tab. */
function Tabs({ current, onChoose }: { current: JobState | null; onChoose: (state: JobState | null) => void }) {
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const step = ARROW_STEPS[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const index = (TABS.findIndex((tab) => tab.state === current) + step + TABS.length) % TABS.length;
    onChoose(TABS[index]!.state);
    event.currentTarget.querySelectorAll<HTMLElement>('[role="tab"]')[index]?.focus();
  };
  return (
    <div role="tablist" aria-label="Job state" className="flex rounded-md bg-slate-100 p-0.5 text-xs" onKeyDown={onKeyDown}>
      {TABS.map((tab) => (
        <button
          key={tab.label}
          type="button"
          role="tab"
          aria-selected={tab.state === current}
          tabIndex={tab.state === current ? 0 : -1}
          onClick={() => onChoose(tab.state)}
          className={`rounded px-2.5 py-1 font-medium ${tab.state === current ? "bg-white text-slate-900 shadow-sm" : "text-slate-500 hover:text-slate-700"}`}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}
