import assert from "node:assert/strict";
import { ClientCredentials, SpotifyAuthError } from "../mod.ts";
import { FakeAccountsServer, FakeClock } from "../testing/mod.ts";
import {
  backoffDelayMs,
  resolveEndpointSettings,
  TokenEndpoint,
} from "./_token_endpoint.ts";

function provider(server: FakeAccountsServer) {
  return new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch: server.fetch,
    retryDelayMs: 0,
  });
}

const unusable: [string, unknown][] = [
  ["an array", [{ access_token: "a", expires_in: 3600 }]],
  ["null", null],
  ["a string", "token"],
  ["no access_token", { token_type: "Bearer", expires_in: 3600 }],
  ["an empty access_token", { access_token: "", expires_in: 3600 }],
  ["a numeric access_token", { access_token: 42, expires_in: 3600 }],
  ["a non-bearer token_type", {
    access_token: "a",
    token_type: "mac",
    expires_in: 3600,
  }],
  ["a numeric token_type", {
    access_token: "a",
    token_type: 1,
    expires_in: 3600,
  }],
  ["no expires_in", { access_token: "a", token_type: "Bearer" }],
  ["a negative expires_in", { access_token: "a", expires_in: -1 }],
  ["a non-numeric expires_in", { access_token: "a", expires_in: "soon" }],
  ["a NaN expires_in string", { access_token: "a", expires_in: "NaN" }],
  ["a boolean expires_in", { access_token: "a", expires_in: true }],
  ["an absurd expires_in", { access_token: "a", expires_in: 1e300 }],
  ["a numeric scope", { access_token: "a", expires_in: 3600, scope: 7 }],
  ["an object refresh_token", {
    access_token: "a",
    expires_in: 3600,
    refresh_token: {},
  }],
];

for (const [variant, body] of unusable) {
  Deno.test(`token endpoint: a 200 with ${variant} is invalid_response`, async () => {
    const server = new FakeAccountsServer();
    await using auth = provider(server);
    server.failNext({ status: 200, body: JSON.stringify(body) });
    const error = await auth.getAccessToken().catch((e) => e);
    assert.ok(error instanceof SpotifyAuthError);
    assert.equal(error.code, "invalid_response");
    assert.equal(server.tokenRequestCount, 1, "not retried");
  });
}

Deno.test("token endpoint: a 200 that is not JSON is invalid_response", async () => {
  const server = new FakeAccountsServer();
  await using auth = provider(server);
  server.failNext("malformed");
  await assert.rejects(auth.getAccessToken(), { code: "invalid_response" });
});

const acceptable: [string, Record<string, unknown>][] = [
  ["token_type in capitals", {
    access_token: "tok",
    token_type: "BEARER",
    expires_in: 3600,
  }],
  ["no token_type", { access_token: "tok", expires_in: 3600 }],
  ["expires_in as a numeric string", {
    access_token: "tok",
    token_type: "bearer",
    expires_in: "3600",
  }],
  ["null scope and refresh_token", {
    access_token: "tok",
    expires_in: 3600,
    scope: null,
    refresh_token: null,
  }],
  ["expires_in of zero", { access_token: "tok", expires_in: 0 }],
];

for (const [variant, body] of acceptable) {
  Deno.test(`token endpoint: accepts a response with ${variant}`, async () => {
    const server = new FakeAccountsServer();
    await using auth = provider(server);
    server.failNext({ status: 200, body: JSON.stringify(body) });
    assert.equal(await auth.getAccessToken(), "tok");
  });
}

Deno.test("token endpoint: an OAuth error keeps Spotify's code, status and description", async () => {
  const server = new FakeAccountsServer();
  await using auth = provider(server);
  server.failNext({
    status: 400,
    body: JSON.stringify({
      error: "invalid_scope",
      error_description: "Bad scope",
    }),
  });
  const error = await auth.getAccessToken().catch((e) => e);
  assert.equal(error.code, "invalid_scope");
  assert.equal(error.status, 400);
  assert.equal(error.description, "Bad scope");
  assert.match(error.message, /invalid_scope/);
});

Deno.test("token endpoint: a 4xx without an OAuth body is http_error", async () => {
  const server = new FakeAccountsServer();
  await using auth = provider(server);
  server.failNext({ status: 404, body: "<html>not here</html>" });
  const error = await auth.getAccessToken().catch((e) => e);
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 404);
});

Deno.test("token endpoint: sends a form-encoded grant with HTTP Basic client authentication", async () => {
  const seen: Request[] = [];
  const server = new FakeAccountsServer();
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    accountsUrl: "https://accounts.example.test/",
    fetch: (input, init) => {
      seen.push(new Request(input, init));
      return server.fetch(input, init);
    },
  });
  await auth.getAccessToken();
  const [request] = seen;
  assert.equal(request.url, "https://accounts.example.test/api/token");
  assert.equal(request.method, "POST");
  assert.match(
    request.headers.get("content-type") ?? "",
    /^application\/x-www-form-urlencoded/,
  );
  assert.equal(
    request.headers.get("authorization"),
    `Basic ${btoa("test-client-id:test-client-secret")}`,
  );
  assert.equal(await request.text(), "grant_type=client_credentials");
});

// ---------------------------------------------------------------------------
// 0.2 hardening: an injected fetch that ignores `signal`, oversized bodies,
// header-unsafe tokens, permission errors, Retry-After, the backoff cap.

const TOKEN_BODY = JSON.stringify({
  access_token: "tok",
  token_type: "Bearer",
  expires_in: 3600,
});

function withFetch(
  fetch: typeof globalThis.fetch,
  options: Partial<ConstructorParameters<typeof ClientCredentials>[0]> = {},
) {
  return new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch,
    retryDelayMs: 0,
    maxRetries: 0,
    ...options,
  });
}

/**
 * Settles like `promise`, or rejects once `ms` pass: a regression must fail
 * the test, not hang the run (Deno tests have no time limit of their own).
 */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still pending after ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** A body of `chunkBytes` chunks that never ends; counts what was pulled. */
function endlessBody(chunkBytes = 16 * 1024) {
  const state = { pulledBytes: 0, cancelled: false };
  const chunk = new Uint8Array(chunkBytes).fill(0x20);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      state.pulledBytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

Deno.test("token endpoint: timeoutMs holds when the injected fetch ignores its signal", async () => {
  await using auth = withFetch(() => new Promise<Response>(() => {}), {
    timeoutMs: 50,
  });
  await assert.rejects(within(2_000, auth.getAccessToken()), {
    code: "timeout",
  });
});

Deno.test("token endpoint: timeoutMs holds when the response body never arrives", async () => {
  const body = new ReadableStream<Uint8Array>({
    pull: () => new Promise<void>(() => {}),
  });
  await using auth = withFetch(
    () => Promise.resolve(new Response(body, { status: 200 })),
    { timeoutMs: 50 },
  );
  await assert.rejects(within(2_000, auth.getAccessToken()), {
    code: "timeout",
  });
});

Deno.test("token endpoint: close() settles a request whose fetch ignores its signal", async () => {
  let called!: () => void;
  const fetchCalled = new Promise<void>((resolve) => (called = resolve));
  const auth = withFetch(() => {
    called();
    return new Promise<Response>(() => {});
  }, { timeoutMs: 60_000 });
  const pending = auth.getAccessToken();
  pending.catch(() => {});
  await fetchCalled;
  const startedAt = performance.now();
  await within(2_000, auth.close());
  await assert.rejects(within(2_000, pending), TypeError);
  // Not merely the provider's own bound on close() (1 s): the request itself
  // stopped.
  assert.ok(performance.now() - startedAt < 500, "close() waited");
});

Deno.test("token endpoint: a request settles on abort even if its fetch ignores the signal", async () => {
  const settings = resolveEndpointSettings("test", {
    fetch: () => new Promise<Response>(() => {}),
    timeoutMs: 60_000,
  });
  const endpoint = new TokenEndpoint(settings, { clientId: "id" });
  const controller = new AbortController();
  const pending = endpoint.request(
    { grant_type: "client_credentials" },
    controller.signal,
  );
  const reason = new Error("closing");
  controller.abort(reason);
  await assert.rejects(within(2_000, pending), (error) => error === reason);
});

Deno.test("token endpoint: an abort settles a request whose fetch ignores its signal", async () => {
  let called!: () => void;
  const fetchCalled = new Promise<void>((resolve) => (called = resolve));
  await using auth = withFetch(() => {
    called();
    return new Promise<Response>(() => {});
  }, { timeoutMs: 60_000 });
  const controller = new AbortController();
  const pending = auth.getAccessToken({ signal: controller.signal });
  pending.catch(() => {});
  await fetchCalled;
  const reason = new Error("user gave up");
  controller.abort(reason);
  await assert.rejects(within(2_000, pending), (error) => error === reason);
});

for (
  const [label, character] of [
    ["CR LF", "\r\n"],
    ["LF", "\n"],
    ["NUL", "\0"],
    ["tab", "\t"],
    ["unit separator", "\x1f"],
    ["DEL", "\x7f"],
  ]
) {
  Deno.test(`token endpoint: an access_token containing ${label} is invalid_response and never shown`, async () => {
    const secret = `SECRET-tok${character}en-Yh3`;
    const body = JSON.stringify({ access_token: secret, expires_in: 3600 });
    await using auth = withFetch(() =>
      Promise.resolve(new Response(body, { status: 200 }))
    );
    const error = await auth.getAccessToken().catch((e) => e);
    assert.ok(error instanceof SpotifyAuthError, String(error));
    assert.equal(error.code, "invalid_response");
    const shown = [String(error), error.stack, Deno.inspect(error)].join("\n");
    assert.ok(!shown.includes("SECRET"), "the token leaked into the error");
  });
}

Deno.test("token endpoint: an access_token with a space or non-ASCII letters is accepted", async () => {
  const body = JSON.stringify({ access_token: "t ok-é", expires_in: 3600 });
  await using auth = withFetch(() =>
    Promise.resolve(new Response(body, { status: 200 }))
  );
  assert.equal(await auth.getAccessToken(), "t ok-é");
});

Deno.test("token endpoint: a 200 body over 64 KiB is invalid_response, read no further than the cap", async () => {
  const { stream, state } = endlessBody();
  let requests = 0;
  await using auth = withFetch(() => {
    requests++;
    return Promise.resolve(new Response(stream, { status: 200 }));
  }, { maxRetries: 3 });
  const error = await within(5_000, auth.getAccessToken().catch((e) => e));
  assert.ok(error instanceof SpotifyAuthError, String(error));
  assert.equal(error.code, "invalid_response");
  assert.match(error.message, /64 KiB/);
  assert.equal(requests, 1, "not retried");
  // The stream may pull a chunk or two ahead of the reader.
  assert.ok(state.pulledBytes <= 64 * 1024 + 3 * 16 * 1024, "read too much");
  assert.ok(state.cancelled, "the rest of the body was not cancelled");
});

Deno.test("token endpoint: a 200 declaring a Content-Length over 64 KiB is refused without reading", async () => {
  const { stream, state } = endlessBody();
  await using auth = withFetch(() =>
    Promise.resolve(
      new Response(stream, {
        status: 200,
        headers: { "content-length": String(1_500_000_000) },
      }),
    )
  );
  await assert.rejects(auth.getAccessToken(), { code: "invalid_response" });
  assert.ok(state.cancelled);
  assert.ok(state.pulledBytes <= 2 * 16 * 1024);
});

Deno.test("token endpoint: a 200 body of exactly 64 KiB is read whole", async () => {
  const body = TOKEN_BODY.padEnd(64 * 1024, " ");
  await using auth = withFetch(() =>
    Promise.resolve(new Response(body, { status: 200 }))
  );
  assert.equal(await auth.getAccessToken(), "tok");
});

Deno.test("token endpoint: an endless error body is read only up to 64 KiB and classified by status", async () => {
  const { stream, state } = endlessBody();
  await using auth = withFetch(() =>
    Promise.resolve(new Response(stream, { status: 503 }))
  );
  const error = await within(5_000, auth.getAccessToken().catch((e) => e));
  assert.ok(error instanceof SpotifyAuthError, String(error));
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 503);
  assert.ok(state.pulledBytes <= 64 * 1024 + 3 * 16 * 1024, "read too much");
  assert.ok(state.cancelled);
});

Deno.test("token endpoint: an OAuth error body is still read in full below the cap", async () => {
  const body = JSON.stringify({
    error: "invalid_client",
    error_description: "x".repeat(400),
  }).padEnd(60 * 1024, " ");
  await using auth = withFetch(() =>
    Promise.resolve(new Response(body, { status: 400 }))
  );
  await assert.rejects(auth.getAccessToken(), { code: "invalid_client" });
});

Deno.test("token endpoint: a body that fails midway is a network_error, retried", async () => {
  let requests = 0;
  await using auth = withFetch(() => {
    requests++;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"access_tok'));
        controller.error(new Error("connection reset"));
      },
    });
    return Promise.resolve(new Response(body, { status: 200 }));
  }, { maxRetries: 2 });
  const error = await auth.getAccessToken().catch((e) => e);
  assert.ok(error instanceof SpotifyAuthError, String(error));
  assert.equal(error.code, "network_error");
  assert.equal(requests, 3);
});

Deno.test("token endpoint: a NotCapable error from fetch is not retried and reaches the caller as is", async () => {
  const denied = new Deno.errors.NotCapable(
    'Requires net access to "accounts.spotify.com:443", run again with the --allow-net flag',
  );
  let requests = 0;
  await using auth = withFetch(() => {
    requests++;
    return Promise.reject(denied);
  }, { maxRetries: 3 });
  await assert.rejects(auth.getAccessToken(), (error) => error === denied);
  assert.equal(requests, 1);
});

Deno.test("token endpoint: a permission error thrown synchronously by fetch reaches the caller as is", async () => {
  // Another realm's NotCapable is not `instanceof` ours: the name decides.
  const denied = Object.assign(new Error("Requires net access"), {
    name: "NotCapable",
  });
  let requests = 0;
  await using auth = withFetch(() => {
    requests++;
    throw denied;
  }, { maxRetries: 3 });
  await assert.rejects(auth.getAccessToken(), (error) => error === denied);
  assert.equal(requests, 1);
});

Deno.test({
  name:
    "token endpoint: without --allow-net the default fetch fails at once with Deno's NotCapable",
  permissions: { net: false },
  async fn() {
    await using auth = new ClientCredentials({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      retryDelayMs: 60_000,
    });
    const error = await within(2_000, auth.getAccessToken().catch((e) => e));
    assert.ok(error instanceof Deno.errors.NotCapable, String(error));
    assert.match(error.message, /--allow-net/);
  },
});

for (const value of ["1.5", "-5", "1e1", ""]) {
  Deno.test(`token endpoint: Retry-After ${JSON.stringify(value)} falls back to the backoff`, async () => {
    // Date.parse reads "1.5" or "-5" as dates in 2001: a clock in 2000 made
    // the old reading a year-long wait, refused as over a minute.
    const clock = new FakeClock(Date.UTC(2000, 0, 1));
    const server = new FakeAccountsServer({ clock });
    await using auth = new ClientCredentials({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      fetch: server.fetch,
      clock,
      retryDelayMs: 0,
    });
    server.failNext({ status: 429, headers: { "retry-after": value } });
    assert.ok(await auth.getAccessToken());
    assert.equal(server.tokenRequestCount, 2);
  });
}

Deno.test("token endpoint: a Retry-After date in the past retries at once", async () => {
  const server = new FakeAccountsServer();
  await using auth = provider(server);
  server.failNext({
    status: 503,
    headers: { "retry-after": "Sun, 06 Nov 1994 08:49:37 GMT" },
  });
  assert.ok(await within(2_000, auth.getAccessToken()));
  assert.equal(server.tokenRequestCount, 2);
});

Deno.test("token endpoint: a Retry-After date over a minute away is http_error at once", async () => {
  const clock = new FakeClock(Date.UTC(2026, 0, 15, 12));
  const server = new FakeAccountsServer({ clock });
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch: server.fetch,
    clock,
    retryDelayMs: 0,
  });
  server.failNext({
    status: 429,
    headers: { "retry-after": "Thu, 15 Jan 2026 12:05:00 GMT" },
  });
  const error = await auth.getAccessToken().catch((e) => e);
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 429);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("token endpoint: the backoff doubles from retryDelayMs", () => {
  const top = () => 1;
  assert.deepEqual(
    [0, 1, 2, 3].map((retry) => backoffDelayMs(500, retry, top)),
    [500, 1_000, 2_000, 4_000],
  );
});

Deno.test("token endpoint: the backoff is capped at 8 s", () => {
  const top = () => 1;
  assert.equal(backoffDelayMs(500, 4, top), 8_000);
  assert.equal(backoffDelayMs(500, 5, top), 8_000);
  assert.equal(backoffDelayMs(60_000, 0, top), 8_000);
  assert.equal(backoffDelayMs(500, 40, () => 0.5), 4_000);
});

Deno.test("token endpoint: the backoff has full jitter", () => {
  assert.equal(backoffDelayMs(500, 2, () => 0), 0);
  assert.equal(backoffDelayMs(500, 2, () => 0.25), 500);
});

Deno.test("token endpoint: an oversized answer over loopback HTTP is refused and its connection released", async () => {
  let served = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => {
      served++;
      // 16 MiB, streamed: more than anyone should read for a token.
      let left = 256;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (left-- === 0) controller.close();
          else controller.enqueue(chunk);
        },
      });
      return new Response(body, { status: 200 });
    },
  );
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    accountsUrl: `http://127.0.0.1:${server.addr.port}`,
    retryDelayMs: 0,
  });
  await assert.rejects(auth.getAccessToken(), { code: "invalid_response" });
  assert.equal(served, 1);
});
