"use client";

import { useCallback, useState } from "react";

export interface Action {
  busy: boolean;
  error: unknown;
  notice: string | null;
  /** Runs `action`; the text it resolves to (if any) becomes the success notice. Resolves true on success. */
  run: (action: () => Promise<unknown>) => Promise<boolean>;
}

/** Busy flag, error and success notice for one button or form that calls the API. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const result = await action();
      setNotice(typeof result === "string" ? result : null);
      return true;
    } catch (caught) {
      setError(caught);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, notice, run };
}
