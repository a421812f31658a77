import assert from "node:assert/strict";
import {
  APP_URL,
  Browser,
  countKeys,
  deferred,
  signInThrough,
  startTestApp,
} from "./_test_user_sessions.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { KvLike } from "./kv_token_cache.ts";
import { UserSessions } from "./user_sessions.ts";

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const HOUR_MS = 3_600_000;

function isCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SpotifyAuthError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/**
 * A fetch that, once armed, holds the next token request until `release()`
 * (then it goes through) or until its signal aborts.
 */
function holdNextTokenRequest() {
  const held = deferred();
  const released = deferred();
  let armed = false;
  const wrap =
    (fetch: typeof globalThis.fetch): typeof globalThis.fetch =>
    (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (armed && url.endsWith("/api/token")) {
        armed = false;
        held.resolve();
        const signal = init?.signal;
        return new Promise((resolve, reject) => {
          const onAbort = () => reject(signal!.reason);
          signal?.addEventListener("abort", onAbort, { once: true });
          released.promise.then(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve(fetch(input, init));
          });
        });
      }
      return fetch(input, init);
    };
  return {
    wrap,
    arm: () => {
      armed = true;
    },
    held: held.promise,
    release: () => released.resolve(),
  };
}

Deno.test("UserSessions signs two users in with separate sessions and tokens", async () => {
  await using app = await startTestApp();
  const alice = new Browser();
  const bob = new Browser();
  const a = await signInThrough(app, app.sessions, alice, { user: "alice" });
  const b = await signInThrough(app, app.sessions, bob, { user: "bob" });

  assert.match(a.sessionId, SESSION_ID);
  assert.notEqual(a.sessionId, b.sessionId);
  const tokenA = await app.sessions.getAccessToken(alice.request("/"));
  const tokenB = await app.sessions.getAccessToken(bob.request("/"));
  assert.equal(tokenA, a.token.accessToken);
  assert.equal(tokenB, b.token.accessToken);
  assert.equal(app.server.inspectAccessToken(tokenA)?.userId, "alice");
  assert.equal(app.server.inspectAccessToken(tokenB)?.userId, "bob");
  assert.equal(
    await app.sessions.getSessionId(alice.request("/")),
    a.sessionId,
  );
  assert.equal(await app.sessions.getSessionId(bob.request("/")), b.sessionId);
});

Deno.test("UserSessions.signIn() redirects to Spotify and binds the state to the browser with a sign-in cookie", async () => {
  await using app = await startTestApp();
  const response = await app.sessions.signIn(
    new Request(`${APP_URL}/login`),
  );
  assert.equal(response.status, 302);
  const location = new URL(response.headers.get("location")!);
  assert.equal(location.pathname, "/authorize");
  assert.equal(
    location.searchParams.get("redirect_uri"),
    `${APP_URL}/callback`,
  );
  assert.equal(location.searchParams.get("scope"), "user-read-private");
  const state = location.searchParams.get("state")!;
  assert.match(state, SESSION_ID);
  assert.deepEqual(response.headers.getSetCookie(), [
    `spotify_session_signin=${state}; HttpOnly; SameSite=Lax; Path=/; Max-Age=600`,
  ]);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "signin"]), 1);
});

Deno.test("UserSessions.handleCallback() sets the session cookie, clears the sign-in cookie and redirects to the success URL", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  const login = browser.receive(
    await app.sessions.signIn(browser.request("/login"), {
      successUrl: "/welcome",
    }),
  );
  const callback = await app.server.authorize(login.headers.get("location")!);
  const result = await app.sessions.handleCallback(browser.request(callback));

  assert.equal(result.response.status, 302);
  assert.equal(result.response.headers.get("location"), "/welcome");
  assert.deepEqual(result.response.headers.getSetCookie(), [
    `spotify_session=${result.sessionId}; HttpOnly; SameSite=Lax; Path=/; Max-Age=15552000`,
    "spotify_session_signin=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0",
  ]);
  assert.ok(result.token.refreshToken !== undefined);
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "session"]), 1);
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "signin"]), 0);
});

Deno.test('UserSessions marks cookies Secure on https with secureCookies "auto", and always with true', async () => {
  await using app = await startTestApp();
  const https = await app.sessions.signIn(
    new Request("https://example.com/login"),
  );
  assert.match(https.headers.getSetCookie()[0], /; Max-Age=600; Secure$/);
  const http = await app.sessions.signIn(new Request(`${APP_URL}/login`));
  assert.doesNotMatch(http.headers.getSetCookie()[0], /Secure/);

  const proxied = app.newInstance({ secureCookies: true });
  const behindProxy = await proxied.signOut(new Request(`${APP_URL}/logout`));
  assert.match(behindProxy.headers.getSetCookie()[0], /; Secure$/);
  const never = app.newInstance({ secureCookies: false });
  const plain = await never.signIn(new Request("https://example.com/login"));
  assert.doesNotMatch(plain.headers.getSetCookie()[0], /Secure/);
});

Deno.test("UserSessions puts no token in any cookie, URL or response", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  const login = browser.receive(
    await app.sessions.signIn(browser.request("/login")),
  );
  const callbackUrl = await app.server.authorize(
    login.headers.get("location")!,
  );
  const result = await app.sessions.handleCallback(
    browser.request(callbackUrl),
  );
  const logout = await app.sessions.signOut(browser.request("/logout"));
  const secrets = [result.token.accessToken, result.token.refreshToken!];
  for (const response of [login, result.response, logout]) {
    const visible = [...response.headers].map(([k, v]) => `${k}: ${v}`)
      .join("\n") + await response.text();
    for (const secret of secrets) assert.ok(!visible.includes(secret));
  }
  for (const secret of secrets) assert.ok(!callbackUrl.includes(secret));
});

Deno.test("UserSessions.handleCallback() refuses a replayed callback with state_mismatch", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  const login = browser.receive(
    await app.sessions.signIn(browser.request("/login")),
  );
  const callback = await app.server.authorize(login.headers.get("location")!);
  const signInCookie = browser.request(callback);
  await app.sessions.handleCallback(signInCookie.clone());

  await assert.rejects(
    app.sessions.handleCallback(signInCookie),
    isCode("state_mismatch"),
  );
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "session"]), 1);
});

Deno.test("UserSessions.handleCallback() refuses a callback without the sign-in cookie and keeps the sign-in for the real browser", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  const login = browser.receive(
    await app.sessions.signIn(browser.request("/login")),
  );
  const callback = await app.server.authorize(login.headers.get("location")!);

  await assert.rejects(
    app.sessions.handleCallback(new Request(callback)),
    isCode("state_mismatch"),
  );
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "session"]), 0);
  const real = await app.sessions.handleCallback(browser.request(callback));
  assert.equal(real.response.status, 302);
});

Deno.test("UserSessions.handleCallback() refuses a callback carrying another browser's sign-in cookie", async () => {
  await using app = await startTestApp();
  const victim = new Browser();
  const attacker = new Browser();
  victim.receive(await app.sessions.signIn(victim.request("/login")));
  const login = attacker.receive(
    await app.sessions.signIn(attacker.request("/login")),
  );
  // Login CSRF: the attacker's own callback, opened in the victim's browser.
  const callback = await app.server.authorize(login.headers.get("location")!);

  await assert.rejects(
    app.sessions.handleCallback(victim.request(callback)),
    isCode("state_mismatch"),
  );
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "session"]), 0);
  assert.equal(app.server.tokenRequestCount, 0);
});

Deno.test("UserSessions.handleCallback() refuses a sign-in older than 10 minutes by the provider clock", async () => {
  await using app = await startTestApp({
    server: { codeTtlSeconds: 3600 },
  });
  const browser = new Browser();
  const login = browser.receive(
    await app.sessions.signIn(browser.request("/login")),
  );
  const callback = await app.server.authorize(login.headers.get("location")!);
  app.clock.tick(10 * 60 * 1000);

  await assert.rejects(
    app.sessions.handleCallback(browser.request(callback)),
    isCode("state_mismatch"),
  );
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "session"]), 0);
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "signin"]), 0);
  assert.equal(app.server.tokenRequestCount, 0);
});

Deno.test("UserSessions.handleCallback() refuses a state this app never issued", async () => {
  await using app = await startTestApp();
  const state = "A".repeat(43);
  const browser = new Browser();
  browser.cookies.set("spotify_session_signin", state);
  await assert.rejects(
    app.sessions.handleCallback(
      browser.request(`/callback?code=stolen&state=${state}`),
    ),
    isCode("state_mismatch"),
  );
  await assert.rejects(
    app.sessions.handleCallback(browser.request("/callback?code=stolen")),
    isCode("state_mismatch"),
  );
});

Deno.test("UserSessions.handleCallback() reports denied consent as access_denied and creates no session", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  await assert.rejects(
    signInThrough(app, app.sessions, browser, { consent: "deny" }),
    isCode("access_denied"),
  );
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "session"]), 0);
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "token"]), 0);
  assert.equal(
    await app.sessions.getSessionId(browser.request("/")),
    undefined,
  );
});

Deno.test("UserSessions signs in a public client with PKCE", async () => {
  await using app = await startTestApp({
    sessions: { pkce: true, clientSecret: undefined },
  });
  const browser = new Browser();
  const login = browser.receive(
    await app.sessions.signIn(browser.request("/login")),
  );
  const authorize = new URL(login.headers.get("location")!);
  assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
  const callback = await app.server.authorize(authorize.href);
  const result = await app.sessions.handleCallback(browser.request(callback));
  assert.equal(
    await app.sessions.getAccessToken(result.sessionId),
    result.token.accessToken,
  );
});

Deno.test("UserSessions.getAccessToken() refreshes each session once for 100 concurrent calls", async () => {
  await using app = await startTestApp();
  const browsers = [new Browser(), new Browser(), new Browser()];
  const users = ["alice", "bob", "carol"];
  for (const [i, browser] of browsers.entries()) {
    await signInThrough(app, app.sessions, browser, { user: users[i] });
  }
  app.clock.tick(HOUR_MS);
  const before = app.server.tokenRequestCount;

  const calls = browsers.flatMap((browser) =>
    Array.from(
      { length: 100 },
      () => app.sessions.getAccessToken(browser.request("/")),
    )
  );
  const tokens = await Promise.all(calls);

  assert.equal(app.server.tokenRequestCount - before, 3);
  for (const [i] of browsers.entries()) {
    const mine = new Set(tokens.slice(i * 100, (i + 1) * 100));
    assert.equal(mine.size, 1);
    const [token] = mine;
    assert.equal(app.server.inspectAccessToken(token)?.userId, users[i]);
  }
});

Deno.test("UserSessions.getAccessToken() serves user B while user A's refresh is stalled", async () => {
  const hold = holdNextTokenRequest();
  await using app = await startTestApp({ wrapFetch: hold.wrap });
  const alice = new Browser();
  const bob = new Browser();
  await signInThrough(app, app.sessions, alice, { user: "alice" });
  await signInThrough(app, app.sessions, bob, { user: "bob" });
  app.clock.tick(HOUR_MS);
  hold.arm();

  let aliceSettled = false;
  const aliceCall = app.sessions.getAccessToken(alice.request("/")).finally(
    () => aliceSettled = true,
  );
  await hold.held;
  const bobToken = await app.sessions.getAccessToken(bob.request("/"));

  assert.equal(app.server.inspectAccessToken(bobToken)?.userId, "bob");
  assert.equal(aliceSettled, false);
  const aliceRejects = assert.rejects(aliceCall, /closed/);
  await app.sessions.close(); // stops alice's refresh
  await aliceRejects;
});

Deno.test("UserSessions ends a session whose refresh token is dead and calls onAuthorizationLost once", async () => {
  const lost: [SpotifyAuthError, string][] = [];
  await using app = await startTestApp({
    sessions: {
      onAuthorizationLost: (error, sessionId) => {
        lost.push([error, sessionId]);
      },
    },
  });
  const browser = new Browser();
  const { sessionId, token } = await signInThrough(
    app,
    app.sessions,
    browser,
  );
  assert.ok(app.server.revokeRefreshToken(token.refreshToken!));
  app.clock.tick(HOUR_MS);

  const rejection = await app.sessions.getAccessToken(browser.request("/"))
    .then(() => assert.fail("resolved"), (error) => error);

  assert.ok(rejection instanceof SpotifyAuthError);
  assert.equal(rejection.code, "authorization_required");
  assert.ok(rejection.cause instanceof SpotifyAuthError);
  assert.equal(rejection.cause.code, "invalid_grant");
  assert.deepEqual(lost, [[rejection, sessionId]]);
  assert.equal(
    await app.sessions.getSessionId(browser.request("/")),
    undefined,
  );
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "session"]), 0);
  assert.equal(await countKeys(app.kv, ["spotify-sdk", "token"]), 0);
  const requests = app.server.tokenRequestCount;
  await assert.rejects(
    app.sessions.getAccessToken(browser.request("/")),
    isCode("authorization_required"),
  );
  assert.equal(app.server.tokenRequestCount, requests);
});

Deno.test("UserSessions ends a session when the 6 months of its sign-in run out", async () => {
  await using app = await startTestApp({
    server: { refreshTokenTtlSeconds: 7200 },
  });
  const browser = new Browser();
  await signInThrough(app, app.sessions, browser);
  app.clock.tick(3 * HOUR_MS);

  await assert.rejects(
    app.sessions.getAccessToken(browser.request("/")),
    isCode("authorization_required"),
  );
  assert.equal(
    await app.sessions.getSessionId(browser.request("/")),
    undefined,
  );
});

Deno.test("UserSessions keeps the session when a refresh fails for a passing reason", async () => {
  await using app = await startTestApp({ sessions: { maxRetries: 0 } });
  const browser = new Browser();
  await signInThrough(app, app.sessions, browser);
  app.clock.tick(HOUR_MS);
  app.server.failNext({ status: 503 });

  await assert.rejects(
    app.sessions.getAccessToken(browser.request("/")),
    isCode("http_error"),
  );
  assert.ok(await app.sessions.getSessionId(browser.request("/")));
  assert.ok(await app.sessions.getAccessToken(browser.request("/")));
});

Deno.test("UserSessions.signOut() removes the session and its token and clears the cookie", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  await signInThrough(app, app.sessions, browser);

  const response = browser.receive(
    await app.sessions.signOut(browser.request("/logout", { method: "POST" })),
  );

  assert.equal(response.status, 302);
  assert.equal(response.headers.get("location"), "/");
  assert.deepEqual(response.headers.getSetCookie(), [
    "spotify_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0",
  ]);
  assert.equal(browser.cookies.size, 0);
  assert.equal(await countKeys(app.kv, ["spotify-sdk"]), 0);
});

Deno.test("UserSessions.signOut() in one process ends the session in another at once, without a request", async () => {
  await using app = await startTestApp();
  const other = app.newInstance();
  const browser = new Browser();
  const { sessionId } = await signInThrough(app, app.sessions, browser);
  assert.ok(await other.getAccessToken(sessionId)); // now cached there too

  await app.sessions.signOut(browser.request("/logout"));
  const requests = app.server.tokenRequestCount;

  await assert.rejects(
    other.getAccessToken(sessionId),
    isCode("authorization_required"),
  );
  assert.equal(app.server.tokenRequestCount, requests);
});

Deno.test("UserSessions instances on one KV share sessions and refresh once per expiry", async () => {
  await using app = await startTestApp();
  const instances = [app.sessions, app.newInstance(), app.newInstance()];
  const browser = new Browser();
  const { token } = await signInThrough(app, instances[0], browser);

  for (const instance of instances) {
    assert.equal(
      await instance.getAccessToken(browser.request("/")),
      token.accessToken,
    );
  }
  assert.equal(app.server.tokenRequestCount, 1); // the code exchange
  app.clock.tick(HOUR_MS);
  const tokens = await Promise.all(
    instances.flatMap((instance) =>
      Array.from(
        { length: 10 },
        () => instance.getAccessToken(browser.request("/")),
      )
    ),
  );

  assert.equal(app.server.tokenRequestCount, 2);
  assert.equal(new Set(tokens).size, 1);
  assert.notEqual(tokens[0], token.accessToken);
});

Deno.test("UserSessions rejects a missing, malformed or unknown session with authorization_required, reading KV only for a well-formed id", async () => {
  let reads = 0;
  await using app = await startTestApp({
    wrapKv: (kv): KvLike => ({
      get: (key) => (reads++, kv.get(key)),
      set: (key, value, options) => kv.set(key, value, options),
      delete: (key) => kv.delete(key),
      atomic: () => kv.atomic(),
    }),
  });
  const requests = [
    new Request(`${APP_URL}/`),
    new Request(`${APP_URL}/`, { headers: { cookie: "spotify_session=x" } }),
    new Request(`${APP_URL}/`, {
      headers: { cookie: `spotify_session=${"A".repeat(42)}!` },
    }),
  ];
  for (const request of requests) {
    await assert.rejects(
      app.sessions.getAccessToken(request),
      isCode("authorization_required"),
    );
    assert.equal(await app.sessions.getSessionId(request), undefined);
  }
  await assert.rejects(
    app.sessions.getAccessToken("not-a-session"),
    isCode("authorization_required"),
  );
  assert.equal(reads, 0);

  await assert.rejects(
    app.sessions.getAccessToken("B".repeat(43)),
    isCode("authorization_required"),
  );
  assert.equal(reads, 1);
  assert.equal(app.server.tokenRequestCount, 0);
});

Deno.test("UserSessions believes neither of two session cookies of the same name", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  const { sessionId } = await signInThrough(app, app.sessions, browser);
  const tossed = new Request(`${APP_URL}/`, {
    headers: {
      cookie: `spotify_session=${"C".repeat(43)}; spotify_session=${sessionId}`,
    },
  });
  assert.equal(await app.sessions.getSessionId(tossed), undefined);
  const quoted = new Request(`${APP_URL}/`, {
    headers: { cookie: `other=1; spotify_session="${sessionId}"` },
  });
  assert.equal(await app.sessions.getSessionId(quoted), sessionId);
});

Deno.test("UserSessions ends a session after sessionTtlSeconds by the provider clock", async () => {
  await using app = await startTestApp({ sessions: { sessionTtlSeconds: 60 } });
  const browser = new Browser();
  const result = await signInThrough(app, app.sessions, browser);
  assert.match(
    result.response.headers.getSetCookie()[0],
    /; Max-Age=60$/,
  );
  app.clock.tick(60_000);
  assert.equal(
    await app.sessions.getSessionId(browser.request("/")),
    undefined,
  );
  await assert.rejects(
    app.sessions.getAccessToken(browser.request("/")),
    isCode("authorization_required"),
  );
});

Deno.test("UserSessions keeps at most maxCachedSessions providers and never closes one a call is using", async () => {
  const hold = holdNextTokenRequest();
  await using app = await startTestApp({
    sessions: { maxCachedSessions: 1 },
    wrapFetch: hold.wrap,
  });
  const alice = new Browser();
  const bob = new Browser();
  await signInThrough(app, app.sessions, alice, { user: "alice" });
  await signInThrough(app, app.sessions, bob, { user: "bob" });
  app.clock.tick(HOUR_MS);
  hold.arm();

  let aliceSettled = false;
  const aliceCall = app.sessions.getAccessToken(alice.request("/")).finally(
    () => aliceSettled = true,
  );
  await hold.held; // alice's refresh is in flight on her provider
  // bob takes the only place in memory; alice's provider leaves the LRU but
  // must not be closed under her running call.
  assert.ok(await app.sessions.getAccessToken(bob.request("/")));
  assert.equal(aliceSettled, false);
  hold.release();

  const aliceToken = await aliceCall;
  assert.equal(app.server.inspectAccessToken(aliceToken)?.userId, "alice");
});

Deno.test("UserSessions serves a session pushed out of memory from KV without a request", async () => {
  await using app = await startTestApp({ sessions: { maxCachedSessions: 1 } });
  const alice = new Browser();
  const bob = new Browser();
  const a = await signInThrough(app, app.sessions, alice, { user: "alice" });
  await signInThrough(app, app.sessions, bob, { user: "bob" });
  const requests = app.server.tokenRequestCount;

  assert.equal(
    await app.sessions.getAccessToken(alice.request("/")),
    a.token.accessToken,
  );
  assert.equal(app.server.tokenRequestCount, requests);
});

Deno.test("UserSessions.close() makes later calls reject and leaves the KV open", async () => {
  await using app = await startTestApp();
  await app.sessions.close();
  await assert.rejects(
    app.sessions.signIn(new Request(`${APP_URL}/login`)),
    /UserSessions is closed/,
  );
  await assert.rejects(
    app.sessions.getAccessToken(new Request(`${APP_URL}/`)),
    TypeError,
  );
  assert.equal((await app.kv.get(["anything"])).value, null);
});

Deno.test("new UserSessions() refuses options that cannot work, saying what to change", async () => {
  using kv = await Deno.openKv(":memory:");
  const base = {
    kv,
    clientId: "id",
    clientSecret: "secret",
    redirectUri: "http://127.0.0.1/callback",
  };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ kv: undefined }, /"kv" must be a Deno.Kv/],
    [{ cookieName: "bad name" }, /"cookieName" must be a cookie name/],
    [{ successUrl: "//evil.example" }, /"successUrl" must be a path/],
    [{ successUrl: "https://evil.example/" }, /"successUrl" must be a path/],
    [{ secureCookies: "yes" }, /"secureCookies" must be "auto"/],
    [{ tokenCache: { get() {}, set() {} } }, /remove "tokenCache"/],
    [{ refreshToken: "AQD" }, /remove "refreshToken"/],
    [{ keyPrefix: "app" }, /"keyPrefix" must be an array/],
  ];
  for (const [override, message] of cases) {
    assert.throws(
      () => new UserSessions({ ...base, ...override } as never),
      (error: unknown) =>
        error instanceof TypeError && message.test(error.message),
    );
  }
  assert.throws(
    () => new UserSessions({ ...base, sessionTtlSeconds: 0 }),
    RangeError,
  );
  assert.throws(
    () => new UserSessions({ ...base, maxCachedSessions: 1.5 }),
    RangeError,
  );
});

Deno.test("UserSessions.signIn() refuses a success URL on another origin", async () => {
  await using app = await startTestApp();
  for (
    const successUrl of ["//evil.example/", "/\\evil.example", "https://x/"]
  ) {
    await assert.rejects(
      app.sessions.signIn(new Request(`${APP_URL}/login`), { successUrl }),
      TypeError,
    );
  }
});

Deno.test("UserSessions instances on one KV send a dead refresh token once and call onAuthorizationLost once", async () => {
  const lost: string[] = [];
  await using app = await startTestApp({
    sessions: { onAuthorizationLost: (_error, id) => void lost.push(id) },
  });
  const other = app.newInstance({
    onAuthorizationLost: (_error, id) => void lost.push(id),
  });
  const browser = new Browser();
  const { sessionId, token } = await signInThrough(app, app.sessions, browser);
  assert.ok(await other.getAccessToken(sessionId));
  app.server.revokeRefreshToken(token.refreshToken!);
  app.clock.tick(HOUR_MS);
  const before = app.server.tokenRequestCount;

  const outcomes = await Promise.allSettled([
    app.sessions.getAccessToken(sessionId),
    other.getAccessToken(sessionId),
  ]);

  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    isCode("authorization_required")(outcome.reason);
  }
  assert.equal(app.server.tokenRequestCount - before, 1);
  assert.deepEqual(lost, [sessionId]);
});

Deno.test("UserSessions.signOut() stops the session's refresh in flight: its callers hear authorization_required", async () => {
  const hold = holdNextTokenRequest();
  await using app = await startTestApp({ wrapFetch: hold.wrap });
  const browser = new Browser();
  await signInThrough(app, app.sessions, browser);
  app.clock.tick(HOUR_MS);
  hold.arm();

  const call = app.sessions.getAccessToken(browser.request("/"));
  const rejected = assert.rejects(call, isCode("authorization_required"));
  await hold.held;
  await app.sessions.signOut(browser.request("/logout"));

  await rejected;
  assert.equal(await countKeys(app.kv, ["spotify-sdk"]), 0);
});

Deno.test("UserSessions: a refresh in another process that ends after sign-out never writes the token back", async () => {
  const hold = holdNextTokenRequest();
  await using app = await startTestApp({ wrapFetch: hold.wrap });
  const other = app.newInstance();
  const browser = new Browser();
  const { sessionId } = await signInThrough(app, app.sessions, browser);
  app.clock.tick(HOUR_MS);
  hold.arm();
  // A refresh starts in the other process and is still on its way...
  const call = other.getAccessToken(sessionId).catch((error) => error);
  await hold.held;
  // ...when the user signs out here (which cannot abort it over there).
  await app.sessions.signOut(browser.request("/logout"));
  hold.release();
  await call;
  assert.equal(await countKeys(app.kv, ["spotify-sdk"]), 0, "no token left");
});

Deno.test('UserSessions retries transient "database is locked" errors of the store', async () => {
  let failures = 2;
  const busy = () => {
    if (failures-- > 0) throw new Error("database is locked");
  };
  await using app = await startTestApp({
    wrapKv: (kv): KvLike => ({
      get: async (key) => (busy(), await kv.get(key)),
      set: async (
        key,
        value,
        options,
      ) => (busy(), await kv.set(key, value, options)),
      delete: (key) => kv.delete(key),
      atomic: () => kv.atomic(),
    }),
  });
  const browser = new Browser();
  const { sessionId } = await signInThrough(app, app.sessions, browser);
  failures = 2;
  assert.equal(
    await app.sessions.getSessionId(browser.request("/")),
    sessionId,
  );
});

Deno.test("UserSessions reads the session cookie from a Cookie header joined with commas (HTTP/2)", async () => {
  await using app = await startTestApp();
  const browser = new Browser();
  const { sessionId } = await signInThrough(app, app.sessions, browser);
  const request = new Request(`${APP_URL}/`, {
    headers: { cookie: `theme=dark, spotify_session=${sessionId}` },
  });
  assert.equal(await app.sessions.getSessionId(request), sessionId);
});

Deno.test("UserSessions rejects a session lifetime under a second, which would clear its own cookie", async () => {
  using kv = await Deno.openKv(":memory:");
  assert.throws(
    () =>
      new UserSessions({
        kv,
        clientId: "test-client-id",
        pkce: true,
        redirectUri: "http://127.0.0.1/callback",
        sessionTtlSeconds: 0.5,
      }),
    RangeError,
  );
});
