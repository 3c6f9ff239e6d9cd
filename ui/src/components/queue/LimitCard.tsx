"use client";

import { useState, type ReactNode } from "react";
import { useAction, type Action } from "@/lib/useAction";
import { usePoll } from "@/lib/usePoll";
import { Button, Card, ErrorBanner, Notice, Spinner } from "../ui";

/** What a limit form gets: the server's current value, polled, and how to save or remove it. */
export interface LimitFormProps<T> {
  queue: string;
  current: T;
  action: Action;
  onSaved: () => void;
}

/** A card that polls a queue's limit and shows its form, with the form's error or notice below. */
export function LimitCard<T>({
  title,
  queue,
  load,
  Form,
}: {
  title: string;
  queue: string;
  load: () => Promise<T>;
  Form: (props: LimitFormProps<T>) => ReactNode;
}) {
  const poll = usePoll(load, queue);
  const action = useAction();
  return (
    <Card title={title}>
      <ErrorBanner className="mb-4" error={poll.error} onRetry={poll.refresh} />
      {poll.data ? <Form queue={queue} current={poll.data} action={action} onSaved={poll.refresh} /> : !poll.error && <Spinner />}
      <div className="mt-3 space-y-2">
        <ErrorBanner error={action.error} />
        {action.notice && <Notice>{action.notice}</Notice>}
      </div>
    </Card>
  );
}

/**
 * The form's edits: null until the user types, so the inputs follow the polled value and stop
 * following it (no input overwritten) once edited, until saved or removed.
 */
export function useLimitDraft<D>({ action, onSaved }: { action: Action; onSaved: () => void }) {
  const [draft, setDraft] = useState<D | null>(null);
  const run = async (task: () => Promise<string>) => {
    if (!(await action.run(task))) return;
    setDraft(null);
    onSaved();
  };
  return { draft, setDraft, run };
}

/** Why the values typed cannot be saved (the Save button is disabled meanwhile). */
export function LimitProblem({ children }: { children: ReactNode }) {
  return (
    <p role="alert" className="text-sm text-rose-800">
      {children}
    </p>
  );
}

export function LimitButtons({
  what,
  exists,
  valid,
  busy,
  onRemove,
}: {
  what: string;
  exists: boolean;
  valid: boolean;
  busy: boolean;
  onRemove: () => void;
}) {
  return (
    <div className="flex gap-2">
      <Button type="submit" variant="primary" disabled={busy || !valid}>
        Save {what}
      </Button>
      {exists && (
        <Button onClick={onRemove} disabled={busy}>
          Remove {what}
        </Button>
      )}
    </div>
  );
}
