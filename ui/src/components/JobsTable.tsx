import Link from "next/link";
import { relativeTime } from "@/lib/format";
import { jobPath } from "@/lib/paths";
import type { JobView } from "@/lib/types";
import { StateBadge } from "./ui";

export interface Selection {
  selected: ReadonlySet<string>;
  toggle: (id: string) => void;
  toggleAll: () => void;
}

function preview(payload: unknown): string {
  const text = JSON.stringify(payload);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

const TH = "px-3 py-2 font-medium";
const TD = "px-3 py-2 align-top";

export function JobsTable({ jobs, now, selection }: { jobs: JobView[]; now: number; selection?: Selection }) {
  const allSelected = jobs.length > 0 && jobs.every((j) => selection?.selected.has(j.id));
  return (
    <div className="-mx-4 overflow-x-auto">
      <table className="min-w-full text-sm" data-testid="jobs-table">
        <thead className="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            {selection && (
              <th className={TH}>
                <input type="checkbox" aria-label="Select all" checked={allSelected} onChange={selection.toggleAll} />
              </th>
            )}
            <th className={TH}>Job</th>
            <th className={TH}>State</th>
            <th className={TH}>Priority</th>
            <th className={TH} title="failed attempts / max retries">Tries</th>
            <th className={TH}>ETA</th>
            <th className={TH}>Created</th>
            <th className={TH}>Payload / last error</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {jobs.map((job) => (
            <tr key={job.id} className="hover:bg-slate-50" data-job-id={job.id}>
              {selection && (
                <td className={TD}>
                  <input type="checkbox" aria-label={`Select ${job.id}`} checked={selection.selected.has(job.id)} onChange={() => selection.toggle(job.id)} />
                </td>
              )}
              <td className={`${TD} font-mono text-xs`}>
                <Link className="text-indigo-600 hover:underline" href={jobPath(job.id)} title={job.id}>
                  {job.id.length > 13 ? `${job.id.slice(0, 8)}…${job.id.slice(-4)}` : job.id}
                </Link>
              </td>
              <td className={TD}>
                <StateBadge state={job.state} />
              </td>
              <td className={`${TD} tabular-nums`}>{job.priority}</td>
              <td className={`${TD} tabular-nums`}>
                {job.tries}/{job.max_retries}
              </td>
              <td className={`${TD} whitespace-nowrap text-slate-600`} title={job.eta}>
                {relativeTime(job.eta, now)}
              </td>
              <td className={`${TD} whitespace-nowrap text-slate-600`} title={job.created_at}>
                {relativeTime(job.created_at, now)}
              </td>
              <td className={`${TD} max-w-md`}>
                <code className="block truncate font-mono text-xs text-slate-700">{preview(job.payload)}</code>
                {job.last_error && <p className="mt-0.5 truncate text-xs text-rose-600" title={job.last_error}>{job.last_error}</p>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
