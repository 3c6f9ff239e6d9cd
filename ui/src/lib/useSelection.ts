"use client";

import { useState } from "react";

/** A set of selected ids with toggle helpers (checkbox lists). */
export function useSelection() {
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  return {
    selected,
    toggle: (id: string) =>
      setSelected((current) => {
        const next = new Set(current);
        if (!next.delete(id)) next.add(id);
        return next;
      }),
    /** Selects all of `ids`, or clears the selection when they all are selected already. */
    toggleAll: (ids: string[]) => setSelected(ids.every((id) => selected.has(id)) ? new Set() : new Set(ids)),
    /** Unselects `ids` (jobs that are gone), keeping the rest selected. */
    remove: (ids: readonly string[]) =>
      setSelected((current) => new Set([...current].filter((id) => !ids.includes(id)))),
    clear: () => setSelected(new Set()),
  };
}
