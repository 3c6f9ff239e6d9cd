"use client";

import { useEffect, useRef, type KeyboardEvent, type ReactNode } from "react";
import { Button } from "./ui";

/**
 * A modal that asks before a destructive call. A native modal <dialog>: the page behind is
 * inert, Escape closes it wherever the focus is, and the focus goes back to the opener.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  busy,
  onConfirm,
  onCancel,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement;
    dialog?.showModal(); // focuses Cancel, the first button
    // Its owner unmounts it rather than closing it, so the focus is given back here.
    return () => {
      if (opener instanceof HTMLElement) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby="confirm-title"
      onClose={onCancel}
      onKeyDown={keepFocusIn}
      className="m-auto w-[calc(100%-2rem)] max-w-md rounded-lg bg-white p-6 shadow-xl backdrop:bg-slate-900/40"
    >
      <h2 id="confirm-title" className="wrap-anywhere text-base font-semibold text-slate-900">
        {title}
      </h2>
      <div className="mt-2 text-sm text-slate-600">{children}</div>
      <div className="mt-5 flex justify-end gap-2">
        <Button onClick={onCancel}>Cancel</Button>
        <Button variant="danger" onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </Button>
      </div>
    </dialog>
  );
}

/**
 * Tab from the last button goes to the first, Shift+Tab from the first to the last. (A modal
 * <dialog> alone lets the focus leave the page, to the browser's own controls, on the way round.)
 */
function keepFocusIn(event: KeyboardEvent<HTMLDialogElement>) {
  if (event.key !== "Tab") return;
  const buttons = [...event.currentTarget.querySelectorAll<HTMLElement>("button:not(:disabled)")];
  const [first, last] = [buttons[0], buttons[buttons.length - 1]];
  if (document.activeElement !== (event.shiftKey ? first : last)) return;
  event.preventDefault();
  (event.shiftKey ? last : first)?.focus();
}
