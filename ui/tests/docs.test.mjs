// The API docs at /docs render the server's OpenAPI 3.1 document in Chromium, offline.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launchBrowser, newPage, screenshot, startServer } from "./harness.mjs";

/** @type {import("./harness.mjs").RunningServer} */
let server;
/** @type {import("playwright-core").Browser} */
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("API docs", () => {
  it("renders every operation of the OpenAPI document, with nothing loaded from elsewhere", async () => {
    const page = await newPage(browser);
    /** @type {string[]} */
    const foreign = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(server.url)) foreign.push(request.url());
    });
    await page.goto(`${server.url}/docs`);
    await page.locator(".opblock").first().waitFor();
    const document = await (await fetch(`${server.url}/openapi.json`)).json();
    const operations = Object.values(document.paths).flatMap((path) => Object.keys(path));
    assert.equal(await page.locator(".opblock").count(), operations.length);
    assert.equal(await page.getByText("Unable to render this definition").count(), 0);
    await screenshot(page, "docs");
    assert.deepEqual(foreign, []);
  });
});
