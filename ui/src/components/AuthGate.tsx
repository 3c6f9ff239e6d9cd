"use client";

import { Fragment, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { api } from "@/lib/api";
import { ApiError, errorMessage } from "@/lib/http";
import { clearToken, onUnauthorized, saveToken } from "@/lib/token";
import { Button, inputClass } from "./ui";

/**
 * Renders the app until the server answers 401, then a token prompt. An accepted token
 * remounts the app (a new key) so that every page loads again with it.
 */
export function AuthGate({ children }: { children: ReactNode }) {
  const [prompt, setPrompt] = useState<{ rejected: boolean } | null>(null);
  const [epoch, setEpoch] = useState(0);
  useEffect(() => onUnauthorized((token) => setPrompt({ rejected: token !== null })), []);
  if (prompt) {
    return (
      <TokenPrompt
        rejected={prompt.rejected}
        onAccepted={() => {
          setPrompt(null);
          setEpoch((value) => value + 1);
        }}
      />
    );
  }
  return <Fragment key={epoch}>{children}</Fragment>;
}

function TokenPrompt({ rejected, onAccepted }: { rejected: boolean; onAccepted: () => void }) {
  const [token, setToken] = useState("");
  const [checking, setChecking] = useState(false);
  const [problem, setProblem] = useState<string | null>(
    rejected ? "The server rejected the saved token. Enter a valid token." : null,
  );

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setChecking(true);
    saveToken(token.trim());
    try {
      await api.listQueues();
      onAccepted();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) clearToken();
      setProblem(
        error instanceof ApiError && error.status === 401
          ? `Wrong token: the server rejected it (${error.message}).`
          : errorMessage(error),
      );
      setChecking(false);
    }
  };

  return (
    <div className="mx-auto mt-16 max-w-md rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
      <h1 className="text-lg font-semibold text-slate-900">Access token required</h1>
      <p className="mt-1 text-sm text-slate-600">
        This RivetQ server requires a bearer token (<code>auth.tokens</code>). It is kept in this
        browser tab&apos;s session only.
      </p>
      <form className="mt-4 space-y-3" onSubmit={submit}>
        <label className="block text-sm font-medium text-slate-700" htmlFor="token">
          Token
        </label>
        <input id="token" type="password" autoComplete="off" autoFocus required className={inputClass} value={token} onChange={(e) => setToken(e.target.value)} />
        {problem && (
          <p role="alert" className="rounded-md bg-rose-50 px-3 py-2 text-sm text-rose-800 ring-1 ring-rose-200">
            {problem}
          </p>
        )}
        <Button type="submit" variant="primary" disabled={checking || !token.trim()}>
          {checking ? "Checking…" : "Sign in"}
        </Button>
      </form>
    </div>
  );
}
