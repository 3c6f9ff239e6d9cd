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
    clear: () => setSelected(new Set()),
  };
}
