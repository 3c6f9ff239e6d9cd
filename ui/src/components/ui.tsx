import Link from "next/link";
import type { ButtonHTMLAttributes, ReactNode } from "react";
import { errorMessage } from "@/lib/http";
import type { JobState } from "@/lib/types";

type Variant = "primary" | "secondary" | "danger" | "ghost";

const VARIANTS: Record<Variant, string> = {
  primary: "bg-indigo-600 text-white hover:bg-indigo-500 disabled:bg-indigo-300",
  secondary:
    "bg-white text-slate-700 ring-1 ring-inset ring-slate-300 hover:bg-slate-50 disabled:text-slate-400",
  danger: "bg-rose-600 text-white hover:bg-rose-500 disabled:bg-rose-300",
  ghost: "text-slate-600 hover:bg-slate-100 disabled:text-slate-300",
};

export function buttonClass(variant: Variant = "secondary"): string {
  return `inline-flex items-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium shadow-sm transition disabled:cursor-not-allowed ${VARIANTS[variant]}`;
}

export function Button({
  variant = "secondary",
  className = "",
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant }) {
  return <button type="button" className={`${buttonClass(variant)} ${className}`} {...props} />;
}

export function Card({
  title,
  actions,
  children,
  className = "",
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`rounded-lg bg-white shadow-sm ring-1 ring-slate-200 ${className}`}>
      {(title || actions) && (
        <header className="flex flex-wrap items-center justify-between gap-2 border-b border-slate-100 px-4 py-3">
          <h2 className="text-sm font-semibold text-slate-800">{title}</h2>
          <div className="flex flex-wrap items-center gap-2">{actions}</div>
        </header>
      )}
      <div className="p-4">{children}</div>
    </section>
  );
}

export function Stat({ label, value, tone = "text-slate-900" }: { label: string; value: ReactNode; tone?: string }) {
  return (
    <div className="rounded-lg bg-white px-4 py-3 shadow-sm ring-1 ring-slate-200">
      <div className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</div>
      <div className={`mt-1 text-2xl font-semibold tabular-nums ${tone}`}>{value}</div>
    </div>
  );
}

const STATE_STYLES: Record<JobState, string> = {
  ready: "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
  delayed: "bg-amber-50 text-amber-700 ring-amber-600/20",
  inflight: "bg-sky-50 text-sky-700 ring-sky-600/20",
  dead: "bg-rose-50 text-rose-700 ring-rose-600/20",
};

export function StateBadge({ state }: { state: JobState }) {
  return <Pill className={STATE_STYLES[state]}>{state}</Pill>;
}

export function PausedBadge({ paused }: { paused: boolean }) {
  return paused ? (
    <Pill className="bg-amber-50 text-amber-800 ring-amber-600/30">paused</Pill>
  ) : (
    <Pill className="bg-emerald-50 text-emerald-700 ring-emerald-600/20">active</Pill>
  );
}

function Pill({ className, children }: { className: string; children: ReactNode }) {
  return (
    <span className={`inline-flex shrink-0 items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${className}`}>
      {children}
    </span>
  );
}

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div role="status" className="flex items-center gap-2 py-6 text-sm text-slate-500">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" />
      {label}
    </div>
  );
}

/** Shows the API's own message verbatim. */
export function ErrorBanner({ error, onRetry, className = "" }: { error: unknown; onRetry?: () => void; className?: string }) {
  if (!error) return null;
  return (
    <div role="alert" className={`${className} flex items-start justify-between gap-3 rounded-md bg-rose-50 px-4 py-3 text-sm text-rose-800 ring-1 ring-rose-200`}>
      <span className="min-w-0 wrap-anywhere">{errorMessage(error)}</span>
      {onRetry && (
        <button type="button" className="shrink-0 font-medium underline" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Notice({ children, tone = "success" }: { children: ReactNode; tone?: "success" | "info" }) {
  const style = tone === "success" ? "bg-emerald-50 text-emerald-800 ring-emerald-200" : "bg-sky-50 text-sky-800 ring-sky-200";
  return (
    <div role="status" className={`rounded-md px-4 py-2 text-sm ring-1 ${style}`}>
      {children}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 px-6 py-10 text-center">
      <p className="text-sm font-medium text-slate-700">{title}</p>
      {children && <div className="mt-1 text-sm text-slate-500">{children}</div>}
    </div>
  );
}

export function PageHeader({ title, crumbs, actions }: { title: ReactNode; crumbs?: { href: string; label: string }[]; actions?: ReactNode }) {
  return (
    <div className="mb-6 flex flex-wrap items-end justify-between gap-4">
      {/* A queue name has up to 128 characters and no spaces: it wraps anywhere, not past the screen. */}
      <div className="min-w-0 wrap-anywhere">
        {crumbs && (
          <nav className="mb-1 flex flex-wrap gap-1 text-sm text-slate-500">
            {crumbs.map((crumb) => (
              <span key={crumb.href}>
                <Link className="hover:text-indigo-600" href={crumb.href}>
                  {crumb.label}
                </Link>
                <span className="mx-1">/</span>
              </span>
            ))}
          </nav>
        )}
        <h1 className="text-2xl font-semibold text-slate-900">{title}</h1>
      </div>
      <div className="flex flex-wrap items-center gap-2">{actions}</div>
    </div>
  );
}

export const inputClass =
  "block w-full rounded-md border-0 px-2.5 py-1.5 text-sm text-slate-900 shadow-sm ring-1 ring-inset ring-slate-300 placeholder:text-slate-400 focus:ring-2 focus:ring-inset focus:ring-indigo-600";

/** "Live" while polls succeed; "Retrying" while the last one failed (the data shown is stale). */
export function LiveBadge({ failing = false }: { failing?: boolean }) {
  return (
    <span className="inline-flex items-center gap-1.5 text-xs text-slate-500">
      <span className={`h-2 w-2 rounded-full ${failing ? "bg-amber-500" : "animate-pulse bg-emerald-500"}`} />
      {failing ? "Retrying every 2 s" : "Live · every 2 s"}
    </span>
  );
}
