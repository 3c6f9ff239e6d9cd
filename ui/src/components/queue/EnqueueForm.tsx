"use client";

import Link from "next/link";
import { useState, type FormEvent } from "react";
import { api } from "@/lib/api";
import { jobPath } from "@/lib/paths";
import type { EnqueueBody, EnqueueResult } from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { Button, Card, ErrorBanner, inputClass, Notice } from "../ui";

export function parsePayload(text: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** Optional job headers: empty text is none; otherwise a JSON object of string values. */
export function parseHeaders(text: string): { value?: Record<string, string>; error?: string } {
  if (text.trim() === "") return {};
  const parsed = parsePayload(text);
  if (parsed.error) return { error: parsed.error };
  const value = parsed.value;
  if (typeof value !== "object" || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
    return { error: 'headers must be a JSON object of strings, e.g. {"trace-id": "abc"}' };
  }
  return { value: value as Record<string, string> };
}

function optionalInt(text: string): number | undefined {
  return text.trim() === "" ? undefined : Number(text);
}

export function EnqueueForm({ queue, onEnqueued }: { queue: string; onEnqueued: () => void }) {
  const [payload, setPayload] = useState('{\n  "hello": "world"\n}');
  const [priority, setPriority] = useState("5");
  const [delay, setDelay] = useState("");
  const [maxRetries, setMaxRetries] = useState("");
  const [idempotencyKey, setIdempotencyKey] = useState("");
  const [headers, setHeaders] = useState("");
  const [result, setResult] = useState<EnqueueResult | null>(null);
  const action = useAction();
  const parsed = parsePayload(payload);
  const parsedHeaders = parseHeaders(headers);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: EnqueueBody = {
      payload: parsed.value,
      headers: parsedHeaders.value,
      priority: Number(priority),
      delay_ms: optionalInt(delay),
      max_retries: optionalInt(maxRetries),
      idempotency_key: idempotencyKey.trim() || undefined,
    };
    setResult(null);
    await action.run(async () => {
      setResult(await api.enqueue(queue, body));
      onEnqueued();
    });
  };

  return (
    <Card title="Enqueue a job">
      <form className="space-y-3" onSubmit={submit} aria-label="Enqueue a job">
        <Field label="Payload (JSON)" htmlFor="payload">
          <textarea id="payload" rows={5} spellCheck={false} className={`${inputClass} font-mono text-xs`} value={payload} onChange={(e) => setPayload(e.target.value)} aria-invalid={Boolean(parsed.error)} />
          {parsed.error && <p className="mt-1 text-xs text-rose-600">Invalid JSON: {parsed.error}</p>}
        </Field>
        <div className="grid grid-cols-3 gap-3">
          <Field label="Priority" htmlFor="priority">
            <select id="priority" className={inputClass} value={priority} onChange={(e) => setPriority(e.target.value)}>
              {Array.from({ length: 10 }, (_, i) => 9 - i).map((p) => (
                <option key={p} value={p}>
                  {p}
                  {p === 9 ? " (first)" : p === 5 ? " (default)" : ""}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Delay (ms)" htmlFor="delay">
            <input id="delay" type="number" min={0} placeholder="0" className={inputClass} value={delay} onChange={(e) => setDelay(e.target.value)} />
          </Field>
          <Field label="Max retries" htmlFor="max-retries">
            <input id="max-retries" type="number" min={0} max={1000} placeholder="3" className={inputClass} value={maxRetries} onChange={(e) => setMaxRetries(e.target.value)} />
          </Field>
        </div>
        <Field label="Idempotency key (optional)" htmlFor="idempotency-key">
          <input id="idempotency-key" className={inputClass} value={idempotencyKey} onChange={(e) => setIdempotencyKey(e.target.value)} />
        </Field>
        <HeadersField id="headers" text={headers} error={parsedHeaders.error} onChange={setHeaders} />
        <ErrorBanner error={action.error} />
        {result && (
          <Notice>
            {result.duplicate ? "Duplicate key: the existing job is " : "Enqueued "}
            <Link className="font-mono underline" href={jobPath(result.job_id)}>
              {result.job_id}
            </Link>
          </Notice>
        )}
        <Button type="submit" variant="primary" disabled={action.busy || Boolean(parsed.error || parsedHeaders.error)}>
          {action.busy ? "Enqueuing…" : "Enqueue"}
        </Button>
      </form>
    </Card>
  );
}

export function Field({ label, htmlFor, children }: { label: string; htmlFor: string; children: React.ReactNode }) {
  return (
    <div>
      <label htmlFor={htmlFor} className="mb-1 block text-xs font-medium text-slate-600">
        {label}
      </label>
      {children}
    </div>
  );
}

export function HeadersField({ id, text, error, onChange }: { id: string; text: string; error?: string; onChange: (text: string) => void }) {
  return (
    <Field label="Headers (JSON object of strings, optional)" htmlFor={id}>
      <textarea id={id} rows={2} spellCheck={false} placeholder='{"trace-id": "abc"}' className={`${inputClass} font-mono text-xs`} value={text} onChange={(e) => onChange(e.target.value)} aria-invalid={Boolean(error)} />
      {error && <p className="mt-1 text-xs text-rose-600">Invalid headers: {error}</p>}
    </Field>
  );
}
