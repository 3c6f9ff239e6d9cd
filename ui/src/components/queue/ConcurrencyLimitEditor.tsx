"use client";

import { useState, type FormEvent } from "react";
import { api } from "@/lib/api";
import type { ConcurrencyLimitView } from "@/lib/types";
import { useAction, type Action } from "@/lib/useAction";
import { usePoll } from "@/lib/usePoll";
import { Button, Card, ErrorBanner, inputClass, Notice, Spinner } from "../ui";
import { Field } from "./EnqueueForm";

export function ConcurrencyLimitEditor({ queue }: { queue: string }) {
  const poll = usePoll(() => api.getConcurrencyLimit(queue), queue);
  const action = useAction();
  return (
    <Card title="Concurrency limit">
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      {poll.data ? (
        <ConcurrencyLimitForm queue={queue} current={poll.data} action={action} onSaved={poll.refresh} />
      ) : (
        !poll.error && <Spinner />
      )}
      <div className="mt-3 space-y-2">
        <ErrorBanner error={action.error} />
        {action.notice && <Notice>{action.notice}</Notice>}
      </div>
    </Card>
  );
}

function ConcurrencyLimitForm({
  queue,
  current,
  action,
  onSaved,
}: {
  queue: string;
  current: ConcurrencyLimitView;
  action: Action;
  onSaved: () => void;
}) {
  // Null until the user types: the input follows the server's value until edited.
  const [draft, setDraft] = useState<string | null>(null);
  const value = draft ?? (current.exists ? String(current.max_inflight) : "");
  const valid = Number.isInteger(Number(value)) && Number(value) >= 1;
  const done = (ok: boolean) => {
    if (!ok) return;
    setDraft(null);
    onSaved();
  };
  const save = async (event: FormEvent) => {
    event.preventDefault();
    done(await action.run(() => api.setConcurrencyLimit(queue, Number(value)).then(() => "Concurrency limit saved.")));
  };
  const remove = async () => done(await action.run(() => api.deleteConcurrencyLimit(queue).then(() => "Concurrency limit removed.")));

  return (
    <form className="space-y-3" onSubmit={save} aria-label="Concurrency limit">
      <p className="text-sm text-slate-600" data-testid="concurrency-limit-current">
        {current.exists
          ? `At most ${current.max_inflight} jobs in flight at once, across all workers.`
          : "No concurrency limit: every worker that asks gets jobs."}
      </p>
      <Field label="Max in flight" htmlFor="cl-max">
        <input id="cl-max" type="number" min={1} step={1} className={inputClass} value={value} onChange={(e) => setDraft(e.target.value)} />
      </Field>
      <div className="flex gap-2">
        <Button type="submit" variant="primary" disabled={action.busy || !valid}>
          Save concurrency limit
        </Button>
        {current.exists && (
          <Button onClick={remove} disabled={action.busy}>
            Remove concurrency limit
          </Button>
        )}
      </div>
    </form>
  );
}
