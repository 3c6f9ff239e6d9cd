"use client";

import { useState } from "react";
import { api } from "@/lib/api";
import { formatCount, formatJobs, prettyJson } from "@/lib/format";
import { errorMessage, isJobGone, isQueueGone } from "@/lib/http";
import { overviewPath, queuePath } from "@/lib/paths";
import type { JobView } from "@/lib/types";
import { Incomplete, useAction } from "@/lib/useAction";
import { usePoll } from "@/lib/usePoll";
import { useSelection } from "@/lib/useSelection";
import { ConfirmButton } from "./ConfirmButton";
import { JobsTable } from "./JobsTable";
import { Button, Card, EmptyState, ErrorBanner, inputClass, LiveBadge, Notice, PageHeader, Spinner } from "./ui";

/** Dead jobs shown at first and added by "Load more" while nothing is searched. */
const PAGE_SIZE = 100;
/** The API's largest page. */
const MAX_PAGE = 1000;

/** Follows cursors until `limit` dead jobs are loaded (Infinity: all of them). */
async function loadDeadJobs(queue: string, limit: number) {
  const jobs: JobView[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.listDlq(queue, Math.min(MAX_PAGE, limit - jobs.length), cursor);
    jobs.push(...page.jobs);
    cursor = page.next_cursor;
  } while (cursor && jobs.length < limit);
  return { jobs, complete: cursor === null };
}

/** The queue's exact dead-job count (from its stats) and its first `limit` dead jobs. */
async function loadDlq(queue: string, limit: number) {
  const [stats, dead] = await Promise.all([api.stats(queue), loadDeadJobs(queue, limit)]);
  return { count: stats.dlq, ...dead, now: Date.now() };
}

/** Case-insensitive, in the error and in the payload as compact JSON or as the job page prints it. */
function matches(job: JobView, needle: string): boolean {
  const text = needle.toLowerCase();
  return [job.last_error ?? "", JSON.stringify(job.payload), prettyJson(job.payload)].some((hay) => hay.toLowerCase().includes(text));
}

export function DlqView({ queue }: { queue: string }) {
  const [limit, setLimit] = useState(PAGE_SIZE);
  const [search, setSearch] = useState("");
  // A search covers every dead job, so it loads them all.
  const searching = search !== "";
  // `limit` and `search` stay out of the key: loading more or searching keeps the list and the selection.
  const poll = usePoll(() => loadDlq(queue, searching ? Infinity : limit), queue, { dropsData: isQueueGone });
  const loadMore = () => {
    setLimit((l) => l + PAGE_SIZE);
    poll.refresh();
  };
  const changeSearch = (text: string) => {
    setSearch(text);
    if ((text !== "") !== searching) poll.refresh();
  };
  return (
    <>
      <PageHeader
        crumbs={[{ href: overviewPath(), label: "Queues" }, { href: queuePath(queue), label: queue }]}
        title="Dead letter queue"
        actions={<LiveBadge failing={Boolean(poll.error)} />}
      />
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      {!poll.data && !poll.error && <Spinner />}
      {poll.data && (
        <DeadJobs queue={queue} {...poll.data} search={search} onSearch={changeSearch} onChanged={poll.refresh} onLoadMore={loadMore} />
      )}
    </>
  );
}

function cardTitle(count: number, shown: number, partial: boolean): string {
  const title = `${formatCount(count)} dead ${count === 1 ? "job" : "jobs"}`;
  return partial ? `${title}, showing ${formatCount(shown)}` : title;
}

function DeadJobs({
  queue,
  count,
  jobs,
  complete,
  now,
  search,
  onSearch,
  onChanged,
  onLoadMore,
}: {
  queue: string;
  count: number;
  jobs: JobView[];
  /** Whether `jobs` holds every dead job of the queue. */
  complete: boolean;
  now: number;
  search: string;
  onSearch: (text: string) => void;
  onChanged: () => void;
  onLoadMore: () => void;
}) {
  const selection = useSelection();
  const visible = search ? jobs.filter((job) => matches(job, search)) : jobs;
  const chosen = visible.filter((job) => selection.selected.has(job.id)).map((job) => job.id);
  // Not every dead job is loaded yet: a search waits for the rest; otherwise "Load more" offers them.
  const searchPending = !complete && search !== "";
  const partial = !complete && search === "";
  /** `gone`: the jobs no longer dead (all selected ones when not given); they are unselected. */
  const changed = (gone?: readonly string[]) => {
    if (gone) selection.remove(gone);
    else selection.clear();
    onChanged();
  };
  return (
    <Card
      title={cardTitle(count, jobs.length, partial)}
      actions={<DlqActions queue={queue} chosen={chosen} total={count} onChanged={changed} />}
    >
      <input type="search" aria-label="Search dead jobs" placeholder="Search error text or payload…" className={`${inputClass} mb-4 max-w-md`} value={search} onChange={(e) => onSearch(e.target.value)} />
      {visible.length > 0 && (
        <JobsTable
          jobs={visible}
          now={now}
          selection={{ selected: selection.selected, toggle: selection.toggle, toggleAll: () => selection.toggleAll(visible.map((j) => j.id)) }}
        />
      )}
      {searchPending ? (
        <Spinner label={`Searching all ${formatCount(count)} dead jobs…`} />
      ) : (
        visible.length === 0 && (
          <EmptyState title={search ? `No dead job matches “${search}”` : "The dead letter queue is empty"}>
            {!search && "Jobs land here after failing more than max_retries times."}
          </EmptyState>
        )
      )}
      {partial && (
        <div className="mt-4 text-center">
          <Button onClick={onLoadMore}>Load more</Button>
        </div>
      )}
    </Card>
  );
}


/** Requeues `ids`; the ones not requeued are not dead any more (requeued or deleted meanwhile). */
async function requeueSome(queue: string, ids: string[]) {
  const { requeued } = await api.requeueDlq(queue, ids);
  if (requeued >= ids.length) return `Requeued ${requeued}.`;
  const missing = ids.length - requeued;
  const which = ids.length === 1 ? "the job is" : missing === 1 ? "1 job is" : `${missing} jobs are`;
  return new Incomplete(`Requeued ${requeued} of ${ids.length}: ${which} no longer in the dead letter queue.`);
}

/**
 * Deletes `ids` one by one, carrying on past failures. A job that is already gone counts as
 * done; `gone` collects the ids that no longer exist. Throws when some could not be deleted.
 */
async function deleteSome(ids: string[], gone: string[]) {
  let deleted = 0;
  const failures: unknown[] = [];
  for (const id of ids) {
    try {
      await api.cancelJob(id);
      deleted++;
      gone.push(id);
    } catch (error) {
      if (isJobGone(error)) gone.push(id);
      else failures.push(error);
    }
  }
  const missing = gone.length - deleted;
  const summary = `Deleted ${formatJobs(deleted)}${missing ? `; ${missing} ${missing === 1 ? "was" : "were"} already gone` : ""}`;
  if (failures.length > 0) throw new Error(`${summary}; ${failures.length} could not be deleted: ${errorMessage(failures[0])}`);
  return missing ? new Incomplete(`${summary}.`) : `${summary}.`;
}

function DlqActions({ queue, chosen, total, onChanged }: { queue: string; chosen: string[]; total: number; onChanged: (gone?: readonly string[]) => void }) {
  const action = useAction();
  const act = (call: () => Promise<unknown>) => action.run(call).then((ok) => ok && onChanged());
  const deleteChosen = () => {
    const gone: string[] = [];
    // Refreshes even after a failure: some of the jobs may be gone already.
    return action.run(() => deleteSome(chosen, gone)).then(() => onChanged(gone));
  };
  return (
    <>
      {action.error ? <ErrorBanner error={action.error} /> : action.notice && <Notice tone={action.tone}>{action.notice}</Notice>}
      <Button variant="primary" disabled={action.busy || chosen.length === 0} onClick={() => act(() => requeueSome(queue, chosen))}>
        Requeue selected ({chosen.length})
      </Button>
      <ConfirmButton label={`Delete selected (${chosen.length})`} title="Delete the selected jobs?" busy={action.busy} disabled={chosen.length === 0} onConfirm={deleteChosen}>
        {chosen.length} dead {chosen.length === 1 ? "job is" : "jobs are"} deleted for good.
      </ConfirmButton>
      <Button disabled={action.busy || total === 0} onClick={() => act(() => api.requeueDlq(queue, null).then((r) => `Requeued ${r.requeued}.`))}>
        Requeue all
      </Button>
      <ConfirmButton label="Purge DLQ" title={`Purge the dead letter queue of “${queue}”?`} busy={action.busy} disabled={total === 0} onConfirm={() => act(() => api.purgeDlq(queue).then((r) => `Purged ${r.purged}.`))}>
        Every dead job of this queue is deleted for good.
      </ConfirmButton>
    </>
  );
}
