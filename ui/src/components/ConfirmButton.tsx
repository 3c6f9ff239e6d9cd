"use client";

import { useState, type ReactNode } from "react";
import { ConfirmDialog } from "./ConfirmDialog";
import { Button } from "./ui";

/** A danger button that opens a confirmation dialog and runs `onConfirm` only after it. */
export function ConfirmButton({
  label,
  title,
  children,
  busy,
  disabled,
  onConfirm,
}: {
  label: string;
  title: string;
  children: ReactNode;
  busy?: boolean;
  disabled?: boolean;
  onConfirm: () => Promise<unknown>;
}) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button variant="danger" disabled={busy || disabled} onClick={() => setOpen(true)}>
        {label}
      </Button>
      {open && (
        <ConfirmDialog
          title={title}
          confirmLabel={label}
          busy={busy}
          onCancel={() => setOpen(false)}
          onConfirm={async () => {
            setOpen(false);
            await onConfirm();
          }}
        >
          {children}
        </ConfirmDialog>
      )}
    </>
  );
}
