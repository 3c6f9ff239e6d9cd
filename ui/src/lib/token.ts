// The bearer token lives in sessionStorage: it survives reloads but not the browser session.

const KEY = "rivetq.token";

export function readToken(): string | null {
  if (typeof window === "undefined") return null;
  return window.sessionStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  window.sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  window.sessionStorage.removeItem(KEY);
}

type Listener = (rejectedToken: string | null) => void;

const listeners = new Set<Listener>();

/** Called whenever the server answers 401; the argument is the token it refused (or null). */
export function onUnauthorized(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function reportUnauthorized(rejectedToken: string | null): void {
  listeners.forEach((listener) => listener(rejectedToken));
}
