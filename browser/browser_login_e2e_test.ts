// startBrowserLogin() / completeBrowserLogin() in real headless Chromium: the
// page's script is the module bundled for the browser, the accounts service
// is FakeAccountsServer.listen() on another origin (CORS), and every
// navigation (to /authorize, its 302 back to /callback) is the browser's
// own. One Chromium for the file, a fresh browser context per step.

import assert from "node:assert/strict";
import {
  FakeAccountsServer,
  type FakeAccountsServerOptions,
} from "../testing/fake_accounts_server.ts";
import { launchChromium, type Page } from "../tests/_chromium.ts";
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
import type { PageConfig } from "./_test_page.ts";

interface Session {
  page: Page;
  server: FakeAccountsServer;
  config: PageConfig;
  app: TestApp;
}

Deno.test("browser sign-in in headless Chromium", async (t) => {
  const script = await bundlePage();
  await using chromium = await launchChromium();
  await using app = await serveApp(script);

  /** Runs `fn` with a new fake accounts service and a fresh browser profile. */
  async function session(
    options: FakeAccountsServerOptions,
    fn: (session: Session) => Promise<void>,
  ): Promise<void> {
    await using server = new FakeAccountsServer({
      clients: [{
        clientId: CLIENT_ID,
        redirectUris: [REGISTERED_REDIRECT_URI],
      }],
      ...options,
    });
    await server.listen();
    const context = await chromium.browser.createBrowserContext();
    try {
      const page = await context.newPage();
      await page.goto(app.url);
      await fn({ page, server, config: pageConfig(server, app), app });
    } finally {
      await context.close();
    }
  }

  /** Clicks "Log in" and follows Spotify's redirect back to the app. */
  async function logIn({ page, config }: Session): Promise<string> {
    await navigateBy(page, () => call(page, "login", config));
    return page.url();
  }

  await t.step(
    "a full login lands on /callback, exchanges once, stores the token and reads the profile",
    async () => {
      await session({}, async (s) => {
        const callback = new URL(await logIn(s));
        assert.equal(
          `${callback.origin}${callback.pathname}`,
          s.app.redirectUri,
        );
        assert.ok(callback.searchParams.has("code"));

        const result = await call(s.page, "complete", s.config);
        assert.ok(
          "value" in result && result.value !== null,
          JSON.stringify(result),
        );
        assert.equal(result.value.scope, "user-read-private");
        assert.equal(result.href, s.app.redirectUri);
        assert.equal(s.page.url(), s.app.redirectUri);
        assert.deepEqual(await call(s.page, "loginEntries"), []);
        const stored = JSON.parse((await call(s.page, "storedToken"))!);
        assert.equal(stored.access_token, result.value.accessToken);
        assert.equal(s.server.tokenRequestCount, 1);

        assert.deepEqual(await call(s.page, "displayName", s.config), {
          value: "Test User",
        });
        assert.equal(s.server.tokenRequestCount, 1);
      });
    },
  );

  await t.step(
    "a refused consent is access_denied, with no token request and a clean address bar",
    async () => {
      await session({ consent: "deny" }, async (s) => {
        const callback = new URL(await logIn(s));
        assert.equal(callback.searchParams.get("error"), "access_denied");
        const result = await call(s.page, "complete", s.config);
        assert.deepEqual(result, {
          error: "access_denied",
          href: s.app.redirectUri,
        });
        assert.deepEqual(await call(s.page, "loginEntries"), []);
        assert.equal(await call(s.page, "storedToken"), null);
        assert.equal(s.server.tokenRequestCount, 0);
      });
    },
  );

  await t.step(
    "a forged state is state_mismatch, leaves the real sign-in pending and sends nothing",
    async () => {
      await session({}, async (s) => {
        await logIn(s);
        const pending = await call(s.page, "loginEntries");
        assert.equal(pending.length, 1);
        await s.page.goto(`${s.app.redirectUri}?code=forged&state=forged`);
        const result = await call(s.page, "complete", s.config);
        assert.deepEqual(result, {
          error: "state_mismatch",
          href: s.app.redirectUri,
        });
        assert.deepEqual(await call(s.page, "loginEntries"), pending);
        assert.equal(s.server.tokenRequestCount, 0);
      });
    },
  );

  await t.step(
    "a StrictMode double completion makes one token request and gives both calls the same token",
    async () => {
      await session({}, async (s) => {
        await logIn(s);
        const result = await call(s.page, "completeTwice", s.config);
        assert.ok("value" in result, JSON.stringify(result));
        const [first, second] = result.value;
        assert.ok(first !== undefined);
        assert.deepEqual(second, first);
        assert.equal(s.server.tokenRequestCount, 1);
        assert.equal(s.page.url(), s.app.redirectUri);
      });
    },
  );

  await t.step(
    "a reload after login keeps the user signed in without a request",
    async () => {
      await session({}, async (s) => {
        await logIn(s);
        const login = await call(s.page, "complete", s.config);
        assert.ok("value" in login && login.value !== null);
        await s.page.reload();
        assert.deepEqual(await call(s.page, "complete", s.config), {
          value: null,
          href: s.app.redirectUri,
        });
        assert.deepEqual(await call(s.page, "accessToken", s.config), {
          value: login.value.accessToken,
        });
        assert.equal(s.server.tokenRequestCount, 1);
      });
    },
  );

  await t.step(
    "reopening a used callback URL is state_mismatch, without a request",
    async () => {
      await session({}, async (s) => {
        const callback = await logIn(s);
        await call(s.page, "complete", s.config);
        await s.page.goto(callback);
        assert.deepEqual(await call(s.page, "complete", s.config), {
          error: "state_mismatch",
          href: s.app.redirectUri,
        });
        assert.equal(s.server.tokenRequestCount, 1);
      });
    },
  );

  await t.step(
    "a sign-in entry older than 10 minutes is state_mismatch and removed, without a request",
    async () => {
      await session({}, async (s) => {
        await logIn(s);
        await call(s.page, "ageLoginEntries", 600_001);
        assert.deepEqual(await call(s.page, "complete", s.config), {
          error: "state_mismatch",
          href: s.app.redirectUri,
        });
        assert.deepEqual(await call(s.page, "loginEntries"), []);
        assert.equal(s.server.tokenRequestCount, 0);
      });
    },
  );
});
