// The token prompt, against a rivetqd started with RIVETQ_AUTH_TOKENS.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launchBrowser, newPage, screenshot, startServer } from "./harness.mjs";

const TOKEN = "ui-test-token";

/** @type {import("./harness.mjs").RunningServer} */
let server;
/** @type {import("playwright-core").Browser} */
let browser;

before(async () => {
  server = await startServer({ RIVETQ_AUTH_TOKENS: TOKEN });
  await server.api("POST", "/v1/queues/secured/enqueue", { payload: { n: 1 } }, TOKEN);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("auth", () => {
  it("asks for a token, rejects a wrong one, and accepts the right one", async () => {
    const page = await newPage(browser);
    await page.goto(`${server.url}/ui/`);
    await page.getByRole("heading", { name: "Access token required" }).waitFor();
    await page.getByLabel("Token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong token" }).waitFor();
    await screenshot(page, "auth-prompt");
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator('tr[data-queue="secured"]').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("rivetq.token")), TOKEN);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Access token required" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("rivetq.token")), null);
  });

  it("keeps the token for the session: a reload needs no prompt", async () => {
    const page = await newPage(browser);
    await page.goto(`${server.url}/ui/`);
    await page.evaluate((token) => sessionStorage.setItem("rivetq.token", token), TOKEN);
    await page.goto(`${server.url}/ui/queue/?name=secured`);
    await page.getByRole("heading", { name: "secured" }).waitFor();
    assert.equal(await page.getByRole("heading", { name: "Access token required" }).count(), 0);
  });
});
