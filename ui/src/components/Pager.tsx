import { Button } from "./ui";

/** Previous/next over an API's opaque cursors. */
export function Pager({ page, hasNext, onPrevious, onNext }: { page: number; hasNext: boolean; onPrevious: () => void; onNext: () => void }) {
  return (
    <div className="mt-4 flex items-center justify-between text-sm text-slate-500">
      <span>Page {page}</span>
      <div className="flex gap-2">
        <Button onClick={onPrevious} disabled={page <= 1}>
          ← Previous
        </Button>
        <Button onClick={onNext} disabled={!hasNext}>
          Next →
        </Button>
      </div>
    </div>
  );
}
