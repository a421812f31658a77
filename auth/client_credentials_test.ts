import assert from "node:assert/strict";
import {
  ClientCredentials,
  type ClientCredentialsOptions,
  SpotifyAuthError,
  type TokenCache,
  type TokenInfo,
} from "../mod.ts";
import {
  FakeAccountsServer,
  FakeClock,
  FakeTokenCache,
} from "../testing/mod.ts";

const CLIENT_ID = "test-client-id";
const CLIENT_SECRET = "test-client-secret";

function setup(options: ClientCredentialsOptions = {}) {
  const clock = new FakeClock(1_700_000_000_000);
  const server = new FakeAccountsServer({ clock });
  const auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    fetch: server.fetch,
    clock,
    retryDelayMs: 0,
    ...options,
  });
  return { clock, server, auth };
}

Deno.test("ClientCredentials.getAccessToken() fetches a token the fake accepts as an app token", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const token = await auth.getAccessToken();
  const inspected = server.inspectAccessToken(token);
  assert.equal(inspected?.clientId, CLIENT_ID);
  assert.equal(inspected?.userId, undefined);
  assert.equal(server.tokenRequestCount, 1);
  assert.equal(server.requests[0].grantType, "client_credentials");
});

Deno.test("ClientCredentials.getAccessToken() reuses a fresh token", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const first = await auth.getAccessToken();
  const second = await auth.getAccessToken();
  assert.equal(second, first);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("ClientCredentials.getAccessToken() refreshes skewSeconds before expiry", async () => {
  const { clock, server, auth } = setup({ skewSeconds: 30 });
  await using _ = auth;
  const first = await auth.getAccessToken();
  clock.tick((3600 - 30) * 1000 - 1);
  assert.equal(await auth.getAccessToken(), first);
  assert.equal(server.tokenRequestCount, 1);
  clock.tick(1);
  const second = await auth.getAccessToken();
  assert.notEqual(second, first);
  assert.equal(server.tokenRequestCount, 2);
});

Deno.test("ClientCredentials.getAccessToken() makes one request for 10 000 concurrent cold calls", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const tokens = await Promise.all(
    Array.from({ length: 10_000 }, () => auth.getAccessToken()),
  );
  assert.equal(server.tokenRequestCount, 1);
  assert.equal(new Set(tokens).size, 1);
});

Deno.test("ClientCredentials.getAccessToken() uses a fresh token already in the cache", async () => {
  const { server, auth: _unused } = setup();
  await _unused.close();
  const seeded = server.issueTokens({ scope: "" });
  const cache = new FakeTokenCache({
    token: { accessToken: seeded.accessToken, expiresAt: seeded.expiresAt },
  });
  await using auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    fetch: server.fetch,
    clock: { now: () => (seeded.expiresAt - 3600) * 1000 },
    tokenCache: cache,
  });
  assert.equal(await auth.getAccessToken(), seeded.accessToken);
  assert.equal(server.tokenRequestCount, 0);
  assert.equal(cache.sets, 0);
});

Deno.test("ClientCredentials.getAccessToken() stores new tokens in the cache", async () => {
  const cache = new FakeTokenCache({ async: true });
  const { auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const token = await auth.getAccessToken();
  assert.equal(cache.sets, 1);
  assert.equal(cache.token?.accessToken, token);
  assert.equal(cache.history.length, 1);
});

Deno.test("ClientCredentials.getAccessToken({ forceRefresh }) gets a new token", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const first = await auth.getAccessToken();
  const forced = await auth.getAccessToken({ forceRefresh: true });
  assert.notEqual(forced, first);
  assert.equal(server.tokenRequestCount, 2);
  assert.equal(await auth.getAccessToken(), forced);
});

Deno.test("ClientCredentials.getAccessToken() retries a 503 and succeeds", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  server.failNext({ status: 503 }, { times: 2 });
  const token = await auth.getAccessToken();
  assert.ok(server.inspectAccessToken(token));
  assert.equal(server.tokenRequestCount, 3);
});

Deno.test("ClientCredentials.getAccessToken() retries a dropped connection and succeeds", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  server.failNext("network");
  assert.ok(server.inspectAccessToken(await auth.getAccessToken()));
  assert.equal(server.tokenRequestCount, 2);
  assert.equal(server.requests[0].status, 0);
});

Deno.test("ClientCredentials.getAccessToken() gives up after maxRetries with http_error", async () => {
  const { server, auth } = setup({ maxRetries: 2 });
  await using _ = auth;
  server.failNext({ status: 502 }, { times: 5 });
  const error = await auth.getAccessToken().catch((e) => e);
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 502);
  assert.equal(server.tokenRequestCount, 3);
});

Deno.test("ClientCredentials.getAccessToken() reports network_error after retries", async () => {
  const { server, auth } = setup({ maxRetries: 1 });
  await using _ = auth;
  server.failNext("network", { times: 2 });
  await assert.rejects(auth.getAccessToken(), { code: "network_error" });
  assert.equal(server.tokenRequestCount, 2);
});

Deno.test("ClientCredentials.getAccessToken() waits for Retry-After before retrying a 429", async () => {
  const server = new FakeAccountsServer();
  let answered!: () => void;
  const firstAnswer = new Promise<void>((resolve) => answered = resolve);
  await using auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    retryDelayMs: 0,
    fetch: async (input, init) => {
      const response = await server.fetch(input, init);
      answered();
      return response;
    },
  });
  server.failNext({ status: 429, headers: { "retry-after": "30" } });
  // Backoff alone (retryDelayMs: 0) would retry at once; Retry-After holds it.
  const controller = new AbortController();
  const pending = auth.getAccessToken({ signal: controller.signal });
  await firstAnswer;
  for (let turn = 0; turn < 5; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(server.tokenRequestCount, 1);
  const reason = new Error("stop waiting");
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("ClientCredentials.getAccessToken() does not wait out a Retry-After over a minute", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  server.failNext({ status: 429, headers: { "retry-after": "3600" } });
  const error = await auth.getAccessToken().catch((e) => e);
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 429);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("ClientCredentials.getAccessToken() succeeds after a 429's Retry-After", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  server.failNext({ status: 429, headers: { "retry-after": "1" } });
  const started = performance.now();
  assert.ok(server.inspectAccessToken(await auth.getAccessToken()));
  assert.ok(performance.now() - started >= 900);
  assert.equal(server.tokenRequestCount, 2);
});

Deno.test("ClientCredentials.getAccessToken() times out a hanging server", async () => {
  const { server, auth } = setup({ timeoutMs: 20, maxRetries: 1 });
  await using _ = auth;
  server.failNext({ delayMs: 60_000 }, { times: 2 });
  const error = await auth.getAccessToken().catch((e) => e);
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "timeout");
  assert.equal(server.tokenRequestCount, 2);
});

Deno.test("ClientCredentials.getAccessToken() does not retry invalid_client", async () => {
  const { server, auth } = setup({ clientSecret: "wrong-secret" });
  await using _ = auth;
  const error = await auth.getAccessToken().catch((e) => e);
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "invalid_client");
  assert.equal(error.status, 400);
  assert.equal(error.description, "Invalid client secret");
  assert.equal(server.tokenRequestCount, 1);
  assert.ok(!error.message.includes("wrong-secret"));
});

Deno.test("ClientCredentials.getAccessToken() rejects with the caller's abort reason", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  server.failNext({ delayMs: 60_000 });
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const pending = auth.getAccessToken({ signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  await assert.rejects(
    auth.getAccessToken({ signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
});

Deno.test("ClientCredentials.getAccessToken() keeps serving other callers when one aborts", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  server.failNext({ delayMs: 5 });
  const controller = new AbortController();
  const aborted = auth.getAccessToken({ signal: controller.signal });
  const patient = auth.getAccessToken();
  controller.abort(new Error("impatient"));
  await assert.rejects(aborted, /impatient/);
  assert.ok(server.inspectAccessToken(await patient));
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("ClientCredentials.close() rejects pending callers and later calls", async () => {
  const { server, auth } = setup();
  server.failNext({ delayMs: 60_000 });
  const pending = auth.getAccessToken();
  await auth.close();
  await assert.rejects(pending, TypeError);
  await assert.rejects(auth.getAccessToken(), /closed/);
});

Deno.test("ClientCredentials.close() stops serving even a fresh cached token", async () => {
  const { auth } = setup();
  await auth.getAccessToken();
  await auth.close();
  await assert.rejects(auth.getAccessToken(), TypeError);
});

Deno.test("ClientCredentials keeps the cached token when a refresh fails", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup({ tokenCache: cache, maxRetries: 0 });
  await using _ = auth;
  await auth.getAccessToken();
  const before = cache.token;
  clock.tick(3600 * 1000);
  server.failNext({ status: 500 });
  await assert.rejects(auth.getAccessToken(), { code: "http_error" });
  assert.equal(cache.token, before);
  assert.equal(cache.sets, 1);
});

Deno.test("ClientCredentials propagates a failing cache.get() without a request", async () => {
  const cache = new FakeTokenCache();
  const { server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  cache.failNextGet(new Error("disk on fire"));
  await assert.rejects(auth.getAccessToken(), /disk on fire/);
  assert.equal(server.tokenRequestCount, 0);
  assert.ok(await auth.getAccessToken());
});

Deno.test("ClientCredentials keeps a new token in memory when cache.set() fails", async () => {
  const cache = new FakeTokenCache();
  const { server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  cache.failNextSet(new Error("read-only"));
  await assert.rejects(auth.getAccessToken(), /read-only/);
  const token = await auth.getAccessToken();
  assert.ok(server.inspectAccessToken(token));
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("ClientCredentials refreshes under the cache's lock and adopts another process's token", async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const server = new FakeAccountsServer({ clock });
  let stored: TokenInfo | undefined;
  let locks = 0;
  const otherProcess = server.issueTokens();
  const cache: TokenCache = {
    get: () => stored,
    set: (token) => {
      stored = token;
    },
    async lock<T>(fn: () => Promise<T>): Promise<T> {
      locks++;
      // While we waited for the lock, another process refreshed.
      stored = {
        accessToken: otherProcess.accessToken,
        expiresAt: otherProcess.expiresAt,
      };
      return await fn();
    },
  };
  await using auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    fetch: server.fetch,
    clock,
    tokenCache: cache,
  });
  assert.equal(await auth.getAccessToken(), otherProcess.accessToken);
  assert.equal(locks, 1);
  assert.equal(server.tokenRequestCount, 0);
});

Deno.test("ClientCredentials explicit options override the environment", async () => {
  Deno.env.set("SPOTIFY_SDK_CLIENT_ID", "env-client-id");
  Deno.env.set("SPOTIFY_SDK_CLIENT_SECRET", "env-secret");
  try {
    const server = new FakeAccountsServer();
    await using auth = new ClientCredentials({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      fetch: server.fetch,
    });
    const token = await auth.getAccessToken();
    assert.equal(server.inspectAccessToken(token)?.clientId, CLIENT_ID);
  } finally {
    Deno.env.delete("SPOTIFY_SDK_CLIENT_ID");
    Deno.env.delete("SPOTIFY_SDK_CLIENT_SECRET");
  }
});

Deno.test("ClientCredentials reads missing credentials from the environment", async () => {
  Deno.env.set("SPOTIFY_SDK_CLIENT_ID", CLIENT_ID);
  Deno.env.set("SPOTIFY_SDK_CLIENT_SECRET", CLIENT_SECRET);
  try {
    const server = new FakeAccountsServer();
    await using auth = new ClientCredentials({ fetch: server.fetch });
    const token = await auth.getAccessToken();
    assert.equal(server.inspectAccessToken(token)?.clientId, CLIENT_ID);
  } finally {
    Deno.env.delete("SPOTIFY_SDK_CLIENT_ID");
    Deno.env.delete("SPOTIFY_SDK_CLIENT_SECRET");
  }
});

Deno.test("ClientCredentials without credentials throws a TypeError naming the variable", () => {
  Deno.env.delete("SPOTIFY_SDK_CLIENT_ID");
  assert.throws(
    () => new ClientCredentials({ clientSecret: CLIENT_SECRET }),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message.includes("clientId") &&
      error.message.includes("SPOTIFY_SDK_CLIENT_ID"),
  );
  Deno.env.delete("SPOTIFY_SDK_CLIENT_SECRET");
  assert.throws(
    () => new ClientCredentials({ clientId: CLIENT_ID }),
    /SPOTIFY_SDK_CLIENT_SECRET/,
  );
});

Deno.test({
  name: "ClientCredentials without --allow-env says which flag to add",
  permissions: { env: false },
  fn() {
    assert.throws(
      () => new ClientCredentials({ clientSecret: CLIENT_SECRET }),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.includes("--allow-env=SPOTIFY_SDK_CLIENT_ID"),
    );
    // Explicit options need no permission at all.
    new ClientCredentials({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  },
});

Deno.test("ClientCredentials rejects out-of-range options with RangeError", () => {
  const base = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
  assert.throws(
    () => new ClientCredentials({ ...base, timeoutMs: 0 }),
    RangeError,
  );
  assert.throws(
    () => new ClientCredentials({ ...base, maxRetries: -1 }),
    RangeError,
  );
  assert.throws(
    () => new ClientCredentials({ ...base, maxRetries: 1.5 }),
    RangeError,
  );
  assert.throws(
    () => new ClientCredentials({ ...base, retryDelayMs: NaN }),
    RangeError,
  );
  assert.throws(
    () => new ClientCredentials({ ...base, skewSeconds: -1 }),
    RangeError,
  );
  assert.throws(
    () => new ClientCredentials({ ...base, accountsUrl: "nope" }),
    TypeError,
  );
  assert.throws(
    () => new ClientCredentials({ ...base, clientId: "" }),
    TypeError,
  );
});

Deno.test("ClientCredentials never shows its secret or tokens", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const token = await auth.getAccessToken();
  server.failNext({ status: 500 }, { times: 10 });
  const error = await auth.getAccessToken({ forceRefresh: true }).catch((e) =>
    e
  );
  const shown = [
    Deno.inspect(auth, { depth: 10, showHidden: true }),
    JSON.stringify(auth),
    String(auth),
    Deno.inspect(error, { depth: 10 }),
    String(error),
    error.stack,
    JSON.stringify(server.requests),
  ].join("\n");
  assert.ok(!shown.includes(CLIENT_SECRET));
  assert.ok(!shown.includes(token));
});

Deno.test("ClientCredentials talks to the fake over real HTTP", async () => {
  await using server = new FakeAccountsServer();
  await server.listen();
  await using auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    accountsUrl: server.url,
  });
  const token = await auth.getAccessToken();
  assert.equal(server.inspectAccessToken(token)?.clientId, CLIENT_ID);
  const me = await fetch(`${server.url}/v1/me`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(me.status, 403);
  await me.body?.cancel();
});

Deno.test("ClientCredentials calls the default fetch without a receiver, as browsers require", async () => {
  const server = new FakeAccountsServer();
  const original = globalThis.fetch;
  let calls = 0;
  // Like a browser's fetch: "Illegal invocation" unless called on the global.
  globalThis.fetch = function (
    this: unknown,
    input: RequestInfo | URL,
    init?: RequestInit,
  ): Promise<Response> {
    if (this !== undefined && this !== globalThis) {
      throw new TypeError("Illegal invocation");
    }
    calls++;
    return server.fetch(input, init);
  };
  try {
    await using auth = new ClientCredentials({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      maxRetries: 0,
    });
    assert.ok(server.inspectAccessToken(await auth.getAccessToken()));
    assert.equal(calls, 1);
  } finally {
    globalThis.fetch = original;
  }
});

Deno.test("ClientCredentials uses a fetch installed on globalThis after it was created", async () => {
  const server = new FakeAccountsServer();
  const original = globalThis.fetch;
  await using auth = new ClientCredentials({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    maxRetries: 0,
  });
  // A polyfill or test double installed later must still be used.
  globalThis.fetch = (input, init) => server.fetch(input, init);
  try {
    assert.ok(server.inspectAccessToken(await auth.getAccessToken()));
  } finally {
    globalThis.fetch = original;
  }
});
