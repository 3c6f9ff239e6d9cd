"use client";

import { useState, type FormEvent } from "react";
import { api } from "@/lib/api";
import type { RateLimitView } from "@/lib/types";
import { useAction, type Action } from "@/lib/useAction";
import { usePoll } from "@/lib/usePoll";
import { Button, Card, ErrorBanner, inputClass, Notice, Spinner } from "../ui";
import { Field } from "./EnqueueForm";

export function RateLimitEditor({ queue }: { queue: string }) {
  const poll = usePoll(() => api.getRateLimit(queue), queue);
  const action = useAction();
  return (
    <Card title="Rate limit">
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      {poll.data ? (
        <RateLimitForm queue={queue} current={poll.data} action={action} onSaved={poll.refresh} />
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

interface Draft {
  capacity: string;
  refill: string;
}

function RateLimitForm({ queue, current, action, onSaved }: { queue: string; current: RateLimitView; action: Action; onSaved: () => void }) {
  // Null until the user types: the inputs follow the server's values, polled, and stop
  // following them (no input overwritten) once edited, until saved or removed.
  const [draft, setDraft] = useState<Draft | null>(null);
  const { capacity, refill } = draft ?? {
    capacity: current.exists ? String(current.capacity) : "",
    refill: current.exists ? String(current.refill_rate) : "",
  };
  const edit = (change: Partial<Draft>) => setDraft({ capacity, refill, ...change });
  const valid = Number(capacity) > 0 && Number(refill) > 0;

  const done = (ok: boolean) => {
    if (!ok) return;
    setDraft(null);
    onSaved();
  };
  const save = async (event: FormEvent) => {
    event.preventDefault();
    done(await action.run(() => api.setRateLimit(queue, Number(capacity), Number(refill)).then(() => "Rate limit saved.")));
  };
  const remove = async () => done(await action.run(() => api.deleteRateLimit(queue).then(() => "Rate limit removed.")));

  return (
    <form className="space-y-3" onSubmit={save} aria-label="Rate limit">
      <p className="text-sm text-slate-600" data-testid="rate-limit-current">
        {current.exists
          ? `Workers get at most ${current.refill_rate} jobs/s, in bursts of up to ${current.capacity}.`
          : "No rate limit: workers get jobs as fast as they ask."}
      </p>
      <div className="grid grid-cols-2 gap-3">
        <Field label="Capacity (tokens)" htmlFor="rl-capacity">
          <input id="rl-capacity" type="number" min={0} step="any" className={inputClass} value={capacity} onChange={(e) => edit({ capacity: e.target.value })} />
        </Field>
        <Field label="Refill rate (tokens/s)" htmlFor="rl-refill">
          <input id="rl-refill" type="number" min={0} step="any" className={inputClass} value={refill} onChange={(e) => edit({ refill: e.target.value })} />
        </Field>
      </div>
      <div className="flex gap-2">
        <Button type="submit" variant="primary" disabled={action.busy || !valid}>
          Save limit
        </Button>
        {current.exists && (
          <Button onClick={remove} disabled={action.busy}>
            Remove limit
          </Button>
        )}
      </div>
    </form>
  );
}
