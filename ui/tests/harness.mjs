// Test harness: a real rivetqd subprocess on a free port and Debian's Chromium driven by
// playwright-core. Every test file starts its own server and browser and stops them after.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const RIVETQD = process.env.RIVETQD || join(REPO, ".venv/bin/rivetqd");
const ARTIFACTS = join(REPO, "test-artifacts/ui");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** @returns {Promise<number>} a port nobody listens on right now */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * @typedef {{ url: string, stop: () => Promise<void>, restart: () => Promise<void>, api: (method: string, path: string, body?: unknown, token?: string) => Promise<any> }} RunningServer
 */

/**
 * Starts rivetqd with in-memory storage and waits until /healthz answers.
 * @param {Record<string, string>} [env] extra environment, e.g. RIVETQ_AUTH_TOKENS
 * @returns {Promise<RunningServer>}
 */
export async function startServer(env = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let stopCurrent = await spawnRivetqd(port, env);
  return {
    url,
    stop: () => stopCurrent(),
    /** Stops the server and starts a new one, empty, on the same port (an in-memory server's restart). */
    restart: async () => {
      await stopCurrent();
      stopCurrent = await spawnRivetqd(port, env);
    },
    api: (method, path, body, token) => callApi(url, method, path, body, token),
  };
}

/**
 * One rivetqd process on `port`, healthy; resolves to the function that stops it.
 * @param {number} port @param {Record<string, string>} env
 * @returns {Promise<() => Promise<void>>}
 */
async function spawnRivetqd(port, env) {
  const dataDir = mkdtempSync(join(tmpdir(), "rivetq-ui-"));
  const args = ["--http-addr", `127.0.0.1:${port}`, "--grpc-addr", "", "--data-dir", dataDir, "--log-level", "warning"];
  // cwd: the temp dir, so that no ./config.yaml of the caller's directory is picked up.
  const child = spawn(RIVETQD, args, {
    cwd: dataDir,
    env: { ...process.env, RIVETQ_STORAGE_BACKEND: "memory", RIVETQ_WAL_FSYNC: "false", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(`http://127.0.0.1:${port}`, exited, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}

/**
 * @param {string} url
 * @param {Promise<unknown>} exited
 * @param {() => string} stderr
 */
async function waitForHealth(url, exited, stderr) {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`rivetqd exited during startup:\n${stderr()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`rivetqd did not become healthy in 30 s:\n${stderr()}`);
}

/**
 * One REST call; throws with the server's error message on a non-2xx answer.
 * @param {string} url @param {string} method @param {string} path @param {unknown} [body] @param {string} [token]
 */
async function callApi(url, method, path, body, token) {
  /** @type {Record<string, string>} */
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return json;
}

/** @returns {Promise<import("playwright-core").Browser>} */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A fresh page (its own sessionStorage) with a desktop viewport.
 * @param {import("playwright-core").Browser} browser
 */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

/**
 * Saves a full-page screenshot to test-artifacts/ui/<name>.png.
 * @param {import("playwright-core").Page} page @param {string} name
 */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * Retries `check` until it stops throwing (the UI polls every 2 s; so does this).
 * @template T @param {() => Promise<T>} check @param {number} [timeoutMs]
 * @returns {Promise<T>}
 */
export async function eventually(check, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * @typedef {{ server: RunningServer, browser: import("playwright-core").Browser, page: import("playwright-core").Page, open: (path: string) => Promise<unknown> }} App
 */

/**
 * Registers before/after hooks that start a server (seeded by `seedWith`) and a browser,
 * and returns the object they fill in for the tests of this file.
 * @param {{ env?: Record<string, string>, seedWith?: (server: RunningServer) => Promise<unknown> }} [options]
 * @returns {App}
 */
export function setUpApp(options = {}) {
  const app = /** @type {App} */ ({});
  before(async () => {
    app.server = await startServer(options.env);
    await options.seedWith?.(app.server);
    app.browser = await launchBrowser();
    app.page = await newPage(app.browser);
    app.open = (path) => app.page.goto(`${app.server.url}/ui${path}`);
  });
  after(async () => {
    await app.browser?.close();
    await app.server?.stop();
  });
  return app;
}
