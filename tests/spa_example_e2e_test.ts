// examples/spa (what `deno task spa --fake` serves) used the way a person
// would, in headless Chromium: log in, see the profile, log out.

import assert from "node:assert/strict";
import { startSpa } from "../examples/spa/server.ts";
import { launchChromium } from "./_chromium.ts";

Deno.test("examples/spa logs in, shows the /v1/me profile and logs out in Chromium", async () => {
  await using spa = await startSpa({ fake: true, port: 0 });
  await using chromium = await launchChromium();
  const page = await chromium.browser.newPage();
  await page.goto(spa.url);
  await page.waitForSelector("#signed-out:not([hidden])");

  await Promise.all([page.waitForNavigation(), page.click("#login")]);
  await page.waitForSelector("#signed-in:not([hidden])");
  assert.equal(
    await page.$eval("#display-name", (element) => element.textContent),
    "Test User",
  );
  assert.equal(new URL(page.url()).search, "");

  await page.click("#logout");
  await page.waitForSelector("#signed-out:not([hidden])");
  assert.equal(
    await page.$eval("#error", (element) => element.textContent),
    "",
  );
});
