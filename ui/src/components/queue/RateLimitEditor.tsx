"use client";

import type { FormEvent } from "react";
import { api } from "@/lib/api";
import type { RateLimitView } from "@/lib/types";
import { inputClass } from "../ui";
import { Field } from "./EnqueueForm";
import { LimitButtons, LimitCard, LimitProblem, useLimitDraft, type LimitFormProps } from "./LimitCard";

export function RateLimitEditor({ queue }: { queue: string }) {
  return <LimitCard title="Rate limit" queue={queue} load={() => api.getRateLimit(queue)} Form={RateLimitForm} />;
}

interface Draft {
  capacity: string;
  refill: string;
}

function RateLimitForm({ queue, current, action, onSaved }: LimitFormProps<RateLimitView>) {
  const { draft, setDraft, run } = useLimitDraft<Draft>({ action, onSaved });
  const { capacity, refill } = draft ?? {
    capacity: current.exists ? String(current.capacity) : "",
    refill: current.exists ? String(current.refill_rate) : "",
  };
  const edit = (change: Partial<Draft>) => setDraft({ capacity, refill, ...change });
  const valid = Number(capacity) >= 1 && Number(refill) > 0; // as the API checks them
  const save = async (event: FormEvent) => {
    event.preventDefault();
    await run(() => api.setRateLimit(queue, Number(capacity), Number(refill)).then(() => "Rate limit saved."));
  };
  const remove = () => run(() => api.deleteRateLimit(queue).then(() => "Rate limit removed."));

  return (
    <form className="space-y-3" onSubmit={save} aria-label="Rate limit">
      <p className="text-sm text-slate-600" data-testid="rate-limit-current">
        {current.exists
          ? `Workers get at most ${current.refill_rate} jobs/s, in bursts of up to ${current.capacity}.`
          : "No rate limit: workers get jobs as fast as they ask."}
      </p>
      <div className="grid grid-cols-2 gap-3">
        <Field label="Capacity (tokens)" htmlFor="rl-capacity">
          <input id="rl-capacity" type="number" min={1} step="any" className={inputClass} value={capacity} onChange={(e) => edit({ capacity: e.target.value })} />
        </Field>
        <Field label="Refill rate (tokens/s)" htmlFor="rl-refill">
          <input id="rl-refill" type="number" min={0} step="any" className={inputClass} value={refill} onChange={(e) => edit({ refill: e.target.value })} />
        </Field>
      </div>
      {!valid && capacity !== "" && refill !== "" && (
        <LimitProblem>The capacity is at least 1 token, and the refill rate above 0 tokens/s.</LimitProblem>
      )}
      <LimitButtons what="rate limit" exists={current.exists} valid={valid} busy={action.busy} onRemove={remove} />
    </form>
  );
}
