"use client";

import { useCallback, useState } from "react";

/** What an action reports when it did less than asked (nothing failed, but nothing to do). */
export class Incomplete {
  constructor(readonly notice: string) {}
}

export interface Action {
  busy: boolean;
  error: unknown;
  notice: string | null;
  /** "info" when the action resolved to an `Incomplete`: shown as information, not as success. */
  tone: "success" | "info";
  /**
   * Runs `action`; the text it resolves to (if any) becomes the success notice, an `Incomplete`'s
   * text an information notice. Resolves true unless it threw.
   */
  run: (action: () => Promise<unknown>) => Promise<boolean>;
}

/** Busy flag, error and success notice for one button or form that calls the API. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [tone, setTone] = useState<Action["tone"]>("success");
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const result = await action();
      setNotice(result instanceof Incomplete ? result.notice : typeof result === "string" ? result : null);
      setTone(result instanceof Incomplete ? "info" : "success");
      return true;
    } catch (caught) {
      setError(caught);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, notice, tone, run };
}
