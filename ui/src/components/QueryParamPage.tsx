"use client";

import { Suspense, type ReactNode } from "react";
import { useSearchParams } from "next/navigation";
import { EmptyState, Spinner } from "./ui";

function FromQuery({ param, missing, render }: { param: string; missing: string; render: (value: string) => ReactNode }) {
  const value = useSearchParams().get(param);
  if (!value) return <EmptyState title={missing}>Start from the queue overview.</EmptyState>;
  return render(value);
}

/** A page whose subject comes from `?param=` (a static export has no dynamic segments). */
export function QueryParamPage(props: { param: string; missing: string; render: (value: string) => ReactNode }) {
  return (
    <Suspense fallback={<Spinner />}>
      <FromQuery {...props} />
    </Suspense>
  );
}
