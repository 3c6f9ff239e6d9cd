"use client";

import type { FormEvent } from "react";
import { api } from "@/lib/api";
import type { ConcurrencyLimitView } from "@/lib/types";
import { formatJobs } from "@/lib/format";
import { inputClass } from "../ui";
import { Field } from "./EnqueueForm";
import { LimitButtons, LimitCard, LimitProblem, useLimitDraft, type LimitFormProps } from "./LimitCard";

export function ConcurrencyLimitEditor({ queue }: { queue: string }) {
  return <LimitCard title="Concurrency limit" queue={queue} load={() => api.getConcurrencyLimit(queue)} Form={ConcurrencyLimitForm} />;
}

function ConcurrencyLimitForm({ queue, current, action, onSaved }: LimitFormProps<ConcurrencyLimitView>) {
  const { draft, setDraft, run } = useLimitDraft<string>({ action, onSaved });
  const value = draft ?? (current.exists ? String(current.max_inflight) : "");
  const valid = Number.isInteger(Number(value)) && Number(value) >= 1;
  const save = async (event: FormEvent) => {
    event.preventDefault();
    await run(() => api.setConcurrencyLimit(queue, Number(value)).then(() => "Concurrency limit saved."));
  };
  const remove = () => run(() => api.deleteConcurrencyLimit(queue).then(() => "Concurrency limit removed."));

  return (
    <form className="space-y-3" onSubmit={save} aria-label="Concurrency limit">
      <p className="text-sm text-slate-600" data-testid="concurrency-limit-current">
        {current.exists
          ? `At most ${formatJobs(current.max_inflight)} in flight at once, across all workers.`
          : "No concurrency limit: every worker that asks gets jobs."}
      </p>
      <Field label="Max in flight" htmlFor="cl-max">
        <input id="cl-max" type="number" min={1} step={1} className={inputClass} value={value} onChange={(e) => setDraft(e.target.value)} />
      </Field>
      {!valid && value !== "" && <LimitProblem>Max in flight is a whole number, at least 1.</LimitProblem>}
      <LimitButtons what="concurrency limit" exists={current.exists} valid={valid} busy={action.busy} onRemove={remove} />
    </form>
  );
}
