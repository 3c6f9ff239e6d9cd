// The bearer token lives in sessionStorage: it survives reloads but not the browser session.

const KEY = "rivetq.token";

export function readToken(): string | null {
  if (typeof window === "undefined") return null;
  return window.sessionStorage.getItem(KEY);
}

const changeListeners = new Set<() => void>();

export function saveToken(token: string): void {
  window.sessionStorage.setItem(KEY, token);
  changeListeners.forEach((listener) => listener());
}

export function clearToken(): void {
  window.sessionStorage.removeItem(KEY);
  changeListeners.forEach((listener) => listener());
}

/** For useSyncExternalStore: called whenever this tab saves or clears the token. */
export function onTokenChange(listener: () => void): () => void {
  changeListeners.add(listener);
  return () => changeListeners.delete(listener);
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
