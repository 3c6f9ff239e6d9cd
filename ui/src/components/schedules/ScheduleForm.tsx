"use client";

import { useState, type FormEvent } from "react";
import { api } from "@/lib/api";
import { useAction } from "@/lib/useAction";
import { Button, Card, ErrorBanner, inputClass, Notice } from "../ui";
import { Field, HeadersField, parseHeaders, parsePayload } from "../queue/EnqueueForm";

export function ScheduleForm({ onSaved }: { onSaved: () => void }) {
  const [name, setName] = useState("");
  const [queue, setQueue] = useState("");
  const [when, setWhen] = useState("0 * * * *");
  const [timezone, setTimezone] = useState("UTC");
  const [payload, setPayload] = useState("{}");
  const [headers, setHeaders] = useState("");
  const action = useAction();
  const parsed = parsePayload(payload);
  const parsedHeaders = parseHeaders(headers);
  const interval = /^\d+$/.test(when.trim()) ? Number(when.trim()) : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = {
      queue,
      payload: parsed.value,
      headers: parsedHeaders.value,
      timezone,
      ...(interval === undefined ? { cron: when.trim() } : { interval_ms: interval }),
    };
    const ok = await action.run(() => api.putSchedule(name, body).then((s) => `Saved ${s.name}: next run ${s.next_run_at}.`));
    if (ok) onSaved();
  };

  return (
    <Card title="Create or replace a schedule">
      <form className="space-y-3" onSubmit={submit} aria-label="Create or replace a schedule">
        <div className="grid grid-cols-2 gap-3">
          <Field label="Name" htmlFor="schedule-name">
            <input id="schedule-name" required className={inputClass} value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field label="Queue" htmlFor="schedule-queue">
            <input id="schedule-queue" required className={inputClass} value={queue} onChange={(e) => setQueue(e.target.value)} />
          </Field>
          <Field label="Cron, @daily-style name, or interval in ms" htmlFor="schedule-when">
            <input id="schedule-when" required className={`${inputClass} font-mono`} value={when} onChange={(e) => setWhen(e.target.value)} />
          </Field>
          <Field label="Time zone (IANA)" htmlFor="schedule-timezone">
            <input id="schedule-timezone" className={inputClass} value={timezone} onChange={(e) => setTimezone(e.target.value)} />
          </Field>
        </div>
        <Field label="Payload (JSON)" htmlFor="schedule-payload">
          <textarea id="schedule-payload" rows={3} spellCheck={false} className={`${inputClass} font-mono text-xs`} value={payload} onChange={(e) => setPayload(e.target.value)} />
          {parsed.error && <p className="mt-1 text-xs text-rose-600">Invalid JSON: {parsed.error}</p>}
        </Field>
        <HeadersField id="schedule-headers" text={headers} error={parsedHeaders.error} onChange={setHeaders} />
        <ErrorBanner error={action.error} />
        {action.notice && <Notice>{action.notice}</Notice>}
        <Button type="submit" variant="primary" disabled={action.busy || Boolean(parsed.error || parsedHeaders.error)}>
          Save schedule
        </Button>
      </form>
    </Card>
  );
}
