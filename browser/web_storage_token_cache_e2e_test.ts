// WebStorageTokenCache in real headless Chromium: tabs of one browser
// profile share localStorage and navigator.locks, so an expired token is
// refreshed once for all of them, and a tab that closes while holding the
// lock releases it. One Chromium for the file, a fresh profile per step.

import assert from "node:assert/strict";
import { FakeAccountsServer } from "../testing/fake_accounts_server.ts";
import { type Browser, launchChromium, type Page } from "../tests/_chromium.ts";
import {
  bundlePage,
  call,
  CLIENT_ID,
  navigateBy,
  pageConfig,
  REGISTERED_REDIRECT_URI,
  serveApp,
  type TestApp,
} from "./_test_e2e.ts";
import type { PageApi, PageConfig } from "./_test_page.ts";

type BrowserContext = Awaited<ReturnType<Browser["createBrowserContext"]>>;

interface Session {
  context: BrowserContext;
  server: FakeAccountsServer;
  config: PageConfig;
  /** Opens another tab of the same profile on the app. */
  openTab(): Promise<Page>;
}

Deno.test("WebStorageTokenCache across tabs in headless Chromium", async (t) => {
  const script = await bundlePage();
  await using chromium = await launchChromium();
  await using app: TestApp = await serveApp(script);

  /**
   * Runs `fn` in a fresh browser profile whose first tab has signed in
   * (one token request) and whose stored token has since expired.
   */
  async function signedIn(
    fn: (session: Session, first: Page) => Promise<void>,
  ): Promise<void> {
    await using server = new FakeAccountsServer({
      clients: [{
        clientId: CLIENT_ID,
        redirectUris: [REGISTERED_REDIRECT_URI],
      }],
    });
    await server.listen();
    const config = pageConfig(server, app);
    const context = await chromium.browser.createBrowserContext();
    try {
      const openTab = async () => {
        const page = await context.newPage();
        await page.goto(app.url);
        return page;
      };
      const first = await openTab();
      await navigateBy(first, () => call(first, "login", config));
      const login = await call(first, "complete", config);
      assert.ok("value" in login && login.value !== null);
      assert.equal(server.tokenRequestCount, 1);
      await fn({ context, server, config, openTab }, first);
    } finally {
      await context.close();
    }
  }

  /** Waits until `count` lock requests of the origin are queued. */
  async function untilPendingLocks(page: Page, count: number): Promise<void> {
    await page.waitForFunction(
      async (count: number) =>
        await (globalThis as unknown as { spotifySdk: PageApi }).spotifySdk
          .pendingLocks() === count,
      { polling: 10, timeout: 5_000 },
      count,
    );
  }

  await t.step(
    "two tabs with an expired token make exactly one refresh request and share its token",
    async () => {
      await signedIn(async (s, first) => {
        const second = await s.openTab();
        await call(first, "expireStoredToken");
        // Hold the lock so both tabs are surely waiting for it at once.
        await call(first, "holdTokenLock");
        const tokens = Promise.all([
          call(first, "accessToken", s.config),
          call(second, "accessToken", s.config),
        ]);
        await untilPendingLocks(second, 2);
        await call(first, "releaseTokenLock");
        const [a, b] = await tokens;
        assert.ok("value" in a, JSON.stringify(a));
        assert.deepEqual(b, a);
        assert.equal(s.server.tokenRequestCount, 2);
        const stored = JSON.parse((await call(second, "storedToken"))!);
        assert.equal(stored.access_token, a.value);
      });
    },
  );

  await t.step(
    "a tab closed while holding the lock releases it to the other tab",
    async () => {
      await signedIn(async (s, first) => {
        const second = await s.openTab();
        await call(first, "expireStoredToken");
        await call(first, "holdTokenLock");
        const token = call(second, "accessToken", s.config);
        await untilPendingLocks(second, 1);
        await first.close();
        const result = await token;
        assert.ok("value" in result, JSON.stringify(result));
        assert.equal(s.server.tokenRequestCount, 2);
      });
    },
  );

  await t.step(
    "sign-out removes the token for every tab, and no tab makes a request after it",
    async () => {
      await signedIn(async (s, first) => {
        const second = await s.openTab();
        assert.deepEqual(await call(first, "signOut", s.config), {
          value: null,
        });
        assert.equal(await call(second, "storedToken"), null);
        assert.deepEqual(await call(second, "accessToken", s.config), {
          error: "authorization_required",
        });
        assert.equal(s.server.tokenRequestCount, 1);
      });
    },
  );
});
