"use client";

import { useCallback, useEffect, useEffectEvent, useState } from "react";

/** The UI refreshes at least this often while the tab is visible (issue 6: ≤ 2 s). */
export const POLL_MS = 2000;

interface Snapshot<T> {
  key: string;
  data?: T;
  error?: unknown;
}

export interface Poll<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  refresh: () => void;
}

/**
 * Calls `load` now and every POLL_MS while the document is visible, and again as soon
 * as it becomes visible. `key` names what is loaded: when it changes, the old data is
 * dropped (no stale page under a new heading) and polling restarts. An error for which
 * `isFinal` holds (what is loaded no longer exists) stops polling until `refresh`. One for
 * which `dropsData` holds drops the data loaded before (it is stale) and polling goes on.
 */
export function usePoll<T>(
  load: () => Promise<T>,
  key: string,
  { isFinal = () => false, dropsData = () => false }: { isFinal?: (error: unknown) => boolean; dropsData?: (error: unknown) => boolean } = {},
): Poll<T> {
  const [snapshot, setSnapshot] = useState<Snapshot<T>>({ key: "" });
  const [generation, setGeneration] = useState(0);
  /** Loads once; whether to go on polling. A load that `isStale` (a refresh started another) is dropped. */
  const fetchOnce = useEffectEvent(async (isStale: () => boolean): Promise<boolean> => {
    try {
      const data = await load();
      if (!isStale()) setSnapshot({ key, data });
      return true;
    } catch (error) {
      if (isStale()) return true;
      setSnapshot((previous) => ({
        key,
        data: previous.key === key && !dropsData(error) ? previous.data : undefined,
        error,
      }));
      return !isFinal(error);
    }
  });

  useEffect(() => {
    let stopped = false;
    let running = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      clearTimeout(timer);
      if (stopped || running) return;
      if (!document.hidden) {
        running = true;
        // Not `stopped = !…`: a cleanup during the load has stopped this loop for good.
        if (!(await fetchOnce(() => stopped))) stopped = true;
        running = false;
      }
      if (!stopped) timer = setTimeout(run, POLL_MS);
    };
    const onVisibility = () => {
      if (!document.hidden) void run();
    };
    document.addEventListener("visibilitychange", onVisibility);
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [key, generation]);

  const refresh = useCallback(() => setGeneration((value) => value + 1), []);
  const current = snapshot.key === key;
  return {
    data: current ? snapshot.data : undefined,
    error: current ? snapshot.error : undefined,
    loading: !current,
    refresh,
  };
}
