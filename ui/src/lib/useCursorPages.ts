"use client";

import { useState } from "react";

/** A stack of cursors: the top one is the page shown; `reset` goes back to the first page. */
export function useCursorPages() {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  return {
    cursor: stack[stack.length - 1] ?? null,
    page: stack.length,
    next: (cursor: string) => setStack((s) => [...s, cursor]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}
