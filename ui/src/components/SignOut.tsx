"use client";

import { useSyncExternalStore } from "react";
import { clearToken, onTokenChange, readToken } from "@/lib/token";

/** "Sign out" in the header while this tab holds a token: forgets it and reloads. */
export function SignOut() {
  const token = useSyncExternalStore(onTokenChange, readToken, () => null);
  if (!token) return null;
  return (
    <button
      type="button"
      className="hover:text-white"
      onClick={() => {
        clearToken();
        window.location.reload();
      }}
    >
      Sign out
    </button>
  );
}
