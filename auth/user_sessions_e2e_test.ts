// UserSessions in a real browser: headless Chromium (tests/_chromium.ts)
// signs in to a Deno.serve app on 127.0.0.1 through the fake accounts
// service's own /authorize over HTTP, following every 302 and keeping real
// cookies. Without Chromium this test fails and says how to install it.

import assert from "node:assert/strict";
import { launchChromium } from "../tests/_chromium.ts";
import { FakeAccountsServer } from "../testing/mod.ts";
import { SpotifyAuthError } from "./errors.ts";
import { UserSessions } from "./user_sessions.ts";

/** The app: sign-in routes and a home page that greets the signed-in user. */
async function startApp(server: FakeAccountsServer, kv: Deno.Kv) {
  const listening = Promise.withResolvers<Deno.NetAddr>();
  // Made once the port is known (the redirect URI carries it).
  const app: { sessions?: UserSessions } = {};
  const http = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (address) => listening.resolve(address as Deno.NetAddr),
  }, async (request) => {
    const { pathname } = new URL(request.url);
    try {
      switch (pathname) {
        case "/login":
          return await app.sessions!.signIn(request);
        case "/callback":
          return (await app.sessions!.handleCallback(request)).response;
        case "/logout":
          return await app.sessions!.signOut(request);
        case "/": {
          if (await app.sessions!.getSessionId(request) === undefined) {
            return page("Not signed in");
          }
          const token = await app.sessions!.getAccessToken(request);
          const me = await fetch(`${server.url}/v1/me`, {
            headers: { authorization: `Bearer ${token}` },
          });
          return page(`Signed in as ${(await me.json()).display_name}`);
        }
        default:
          return new Response("Not found", { status: 404 });
      }
    } catch (error) {
      if (error instanceof SpotifyAuthError) {
        return page(`Sign-in failed: ${error.code}`, 400);
      }
      throw error;
    }
  });
  const { port } = await listening.promise;
  const url = `http://127.0.0.1:${port}`;
  const sessions = new UserSessions({
    kv,
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: `${url}/callback`,
    scope: "user-read-private",
    accountsUrl: server.url,
    retryDelayMs: 0,
  });
  app.sessions = sessions;
  const close = async () => {
    await http.shutdown();
    await sessions.close();
  };
  return { url, close, [Symbol.asyncDispose]: close };
}

function page(text: string, status = 200): Response {
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>app</title><p id="status">${text}</p>`,
    { status, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

Deno.test("UserSessions signs a user in and out in headless Chromium with real cookies", async () => {
  await using chromium = await launchChromium();
  await using server = new FakeAccountsServer({
    users: [{ id: "alice", displayName: "Alice" }],
  });
  await server.listen();
  using kv = await Deno.openKv(":memory:");
  await using app = await startApp(server, kv);
  const context = await chromium.browser.createBrowserContext();
  try {
    const tab = await context.newPage();
    const status = () => tab.$eval("#status", (element) => element.textContent);

    // /login → the fake's /authorize → /callback → /, all followed by Chromium.
    await tab.goto(`${app.url}/login`);
    assert.equal(tab.url(), `${app.url}/`);
    assert.equal(await status(), "Signed in as Alice");

    const cookies = await context.cookies();
    assert.deepEqual(cookies.map((cookie) => cookie.name), ["spotify_session"]);
    const [session] = cookies;
    assert.match(session.value, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Lax");
    assert.equal(session.path, "/");
    assert.equal(session.secure, false); // http on loopback
    // HttpOnly: the page's scripts cannot read it.
    assert.equal(await tab.evaluate("document.cookie"), "");
    // No token in the page, its URL or any cookie (the fake's tokens are
    // named fake-access-N / fake-refresh-N).
    assert.doesNotMatch(await tab.content(), /fake-(access|refresh)/);
    assert.doesNotMatch(tab.url(), /fake-(access|refresh)/);
    assert.doesNotMatch(session.value, /fake-/);

    await tab.goto(`${app.url}/logout`);
    assert.equal(tab.url(), `${app.url}/`);
    assert.equal(await status(), "Not signed in");
    assert.deepEqual(await context.cookies(), []);
  } finally {
    await context.close();
  }
});

Deno.test("UserSessions refuses a callback opened in a browser that did not start the sign-in", async () => {
  await using chromium = await launchChromium();
  await using server = new FakeAccountsServer();
  await server.listen();
  using kv = await Deno.openKv(":memory:");
  await using app = await startApp(server, kv);
  // The attacker starts a sign-in in their own browser and stops at the
  // callback URL...
  const login = await fetch(`${app.url}/login`, { redirect: "manual" });
  await login.body?.cancel();
  const authorize = await fetch(login.headers.get("location")!, {
    redirect: "manual",
  });
  await authorize.body?.cancel();
  const callbackUrl = authorize.headers.get("location")!;
  // ...and gets the victim's browser to open it (login CSRF).
  const context = await chromium.browser.createBrowserContext();
  try {
    const tab = await context.newPage();
    const response = await tab.goto(callbackUrl);
    assert.equal(response?.status(), 400);
    assert.equal(
      await tab.$eval("#status", (element) => element.textContent),
      "Sign-in failed: state_mismatch",
    );
    assert.deepEqual(await context.cookies(), []);
  } finally {
    await context.close();
  }
});
