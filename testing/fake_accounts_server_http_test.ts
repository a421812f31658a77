import assert from "node:assert/strict";
import { FakeAccountsServer, FakeClock } from "./mod.ts";
import {
  authorizeUrl,
  BASIC,
  CLIENT_ID,
  CLIENT_SECRET,
  getMe,
  ME_URL,
  postToken,
  REDIRECT_URI,
  TOKEN_URL,
} from "./_test_helpers.ts";

const CLIENT_CREDENTIALS = { grant_type: "client_credentials" };

// --- /v1/me --------------------------------------------------------------

Deno.test("GET /v1/me with a user token returns that user's profile", async () => {
  const server = new FakeAccountsServer({
    users: [{
      id: "alice",
      displayName: "Alice",
      email: "alice@example.com",
      country: "SE",
      product: "premium",
    }],
  });
  const { accessToken } = server.issueTokens({
    scope: "user-read-email user-read-private",
  });
  const me = await getMe(server.fetch, accessToken);
  assert.equal(me.status, 200);
  assert.equal(me.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(me.body, {
    country: "SE",
    display_name: "Alice",
    email: "alice@example.com",
    explicit_content: { filter_enabled: false, filter_locked: false },
    external_urls: { spotify: "https://open.spotify.com/user/alice" },
    followers: { href: null, total: 0 },
    href: "https://api.spotify.com/v1/users/alice",
    id: "alice",
    images: [],
    product: "premium",
    type: "user",
    uri: "spotify:user:alice",
  });
});

Deno.test("GET /v1/me/ (trailing slash) is the same as /v1/me", async () => {
  const server = new FakeAccountsServer();
  const { accessToken } = server.issueTokens();
  const me = await getMe(server.fetch, accessToken, `${ME_URL}/`);
  assert.equal(me.status, 200);
  assert.equal(me.body.id, "test-user");
  assert.equal(me.body.display_name, "Test User");
});

Deno.test("GET /v1/me shows email only with user-read-email, like the Web API", async () => {
  const server = new FakeAccountsServer({
    users: [{ id: "u", displayName: "U", email: "u@example.com" }],
  });
  const me = await getMe(server.fetch, server.issueTokens().accessToken);
  assert.equal(me.body.email, undefined);
});

Deno.test("GET /v1/me with a client-credentials token is 403", async () => {
  const server = new FakeAccountsServer();
  const app = await postToken(server.fetch, CLIENT_CREDENTIALS);
  const me = await getMe(server.fetch, app.body.access_token);
  assert.equal(me.status, 403);
  assert.equal(me.body.error.status, 403);
  assert.equal(typeof me.body.error.message, "string");
});

Deno.test("GET /v1/me without, with an unknown or with an expired token is 401", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock });
  const { accessToken } = server.issueTokens();
  clock.tick(3_599_999);
  assert.equal((await getMe(server.fetch, accessToken)).status, 200);
  clock.tick(1);
  for (const token of [undefined, "fake-access-999", accessToken]) {
    const me = await getMe(server.fetch, token);
    assert.equal(me.status, 401);
    assert.deepEqual(Object.keys(me.body.error), ["status", "message"]);
    assert.equal(me.body.error.status, 401);
  }
  const basic = await server.fetch(ME_URL, {
    headers: { authorization: BASIC },
  });
  assert.equal(basic.status, 401);
  await basic.body?.cancel();
});

// --- CORS ----------------------------------------------------------------

for (const url of [TOKEN_URL, ME_URL, `${ME_URL}/`]) {
  Deno.test(`a CORS preflight to ${url} is answered 204 allowing authorization and content-type`, async () => {
    const server = new FakeAccountsServer();
    const response = await server.fetch(url, {
      method: "OPTIONS",
      headers: {
        origin: "http://127.0.0.1:5173",
        "access-control-request-method": url === TOKEN_URL ? "POST" : "GET",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("access-control-allow-origin"), "*");
    const allowed = response.headers.get("access-control-allow-headers")!;
    assert.ok(allowed.includes("authorization"));
    assert.ok(allowed.includes("content-type"));
    assert.ok(
      response.headers.get("access-control-allow-methods")!.includes(
        url === TOKEN_URL ? "POST" : "GET",
      ),
    );
    assert.equal(server.tokenRequestCount, 0);
    assert.deepEqual(server.requests, []);
  });
}

Deno.test("every answer of /api/token and /v1/me carries Access-Control-Allow-Origin: *", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 429, headers: { "retry-after": "1" } });
  server.failNext("malformed");
  const answers = [
    await server.fetch(TOKEN_URL, { method: "POST" }), // fault 429
    await server.fetch(TOKEN_URL, { method: "POST" }), // malformed
    await server.fetch(TOKEN_URL, { method: "POST" }), // 400
    await server.fetch(TOKEN_URL, { method: "PUT" }), // 405
    await server.fetch(ME_URL), // 401
    await server.fetch(ME_URL, { method: "DELETE" }), // 405
    await server.fetch(ME_URL, {
      headers: {
        authorization: `Bearer ${
          server.issueTokens({ userId: null }).accessToken
        }`,
      },
    }), // 403
  ];
  assert.deepEqual(answers.map((answer) => answer.status), [
    429,
    200,
    400,
    405,
    401,
    405,
    403,
  ]);
  for (const answer of answers) {
    assert.equal(answer.headers.get("access-control-allow-origin"), "*");
    await answer.body?.cancel();
  }
});

// --- faults --------------------------------------------------------------

Deno.test("a { status, body, headers } fault answers with them once, then normally", async () => {
  const server = new FakeAccountsServer();
  server.failNext({
    status: 429,
    headers: { "retry-after": "7" },
    body: { error: "rate_limited" },
  });
  const faulted = await postToken(server.fetch, CLIENT_CREDENTIALS);
  assert.equal(faulted.status, 429);
  assert.equal(faulted.headers.get("retry-after"), "7");
  assert.deepEqual(faulted.body, { error: "rate_limited" });
  assert.equal((await postToken(server.fetch, CLIENT_CREDENTIALS)).status, 200);
});

Deno.test("a 'network' fault makes server.fetch reject with TypeError", async () => {
  const server = new FakeAccountsServer();
  server.failNext("network");
  await assert.rejects(
    postToken(server.fetch, CLIENT_CREDENTIALS),
    TypeError,
  );
  assert.equal(server.requests[0].status, 0);
  assert.equal(server.requests[0].grantType, "client_credentials");
});

Deno.test("a 'malformed' fault answers 200 with a body that is not JSON", async () => {
  const server = new FakeAccountsServer();
  server.failNext("malformed");
  const response = await server.fetch(TOKEN_URL, {
    method: "POST",
    headers: { authorization: BASIC },
    body: new URLSearchParams(CLIENT_CREDENTIALS),
  });
  assert.equal(response.status, 200);
  await assert.rejects(response.json(), SyntaxError);
});

Deno.test("a { delayMs } fault answers normally after the delay", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ delayMs: 1 });
  const answer = await postToken(server.fetch, CLIENT_CREDENTIALS);
  assert.equal(answer.status, 200);
  assert.equal(answer.body.access_token, "fake-access-1");
});

Deno.test("aborting during a { delayMs } fault rejects with the signal's reason and clears the timer", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ delayMs: 60_000 });
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const pending = server.fetch(TOKEN_URL, {
    method: "POST",
    headers: { authorization: BASIC },
    body: new URLSearchParams(CLIENT_CREDENTIALS),
    signal: controller.signal,
  });
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  assert.equal(server.requests[0].status, 0);
});

Deno.test("queued faults apply in order, each `times` times", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 503 }, { times: 2 });
  server.failNext({ status: 429, headers: { "retry-after": "0" } });
  server.failNext("network");
  const statuses: (number | string)[] = [];
  for (let index = 0; index < 5; index++) {
    try {
      statuses.push((await postToken(server.fetch, CLIENT_CREDENTIALS)).status);
    } catch (error) {
      statuses.push((error as Error).name);
    }
  }
  assert.deepEqual(statuses, [503, 503, 429, "TypeError", 200]);
});

Deno.test("faults for the authorize endpoint leave the token endpoint alone", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 503 }, { endpoint: "authorize" });
  server.failNext("network", { endpoint: "authorize" });
  assert.equal((await postToken(server.fetch, CLIENT_CREDENTIALS)).status, 200);
  await assert.rejects(server.authorize(authorizeUrl()), /HTTP 503/);
  await assert.rejects(server.authorize(authorizeUrl()), TypeError);
  assert.ok((await server.authorize(authorizeUrl())).includes("code="));
  assert.deepEqual(
    server.requests.map(({ endpoint, status }) => [endpoint, status]),
    [["token", 200], ["authorize", 503], ["authorize", 0], [
      "authorize",
      302,
    ]],
  );
});

Deno.test("failNext() rejects malformed faults and options", () => {
  const server = new FakeAccountsServer();
  assert.throws(() => server.failNext({ status: 99 }), RangeError);
  assert.throws(() => server.failNext({ status: 600 }), RangeError);
  assert.throws(() => server.failNext({ delayMs: -1 }), RangeError);
  assert.throws(() => server.failNext("network", { times: 0 }), RangeError);
  assert.throws(() => server.failNext("network", { times: 1.5 }), RangeError);
  // @ts-expect-error: not a fault
  assert.throws(() => server.failNext("boom"), TypeError);
  assert.throws(
    // @ts-expect-error: not an endpoint
    () => server.failNext("network", { endpoint: "userinfo" }),
    TypeError,
  );
});

/** `failNext` without its types, to pass what JavaScript callers might. */
function untypedFailNext(
  server: FakeAccountsServer,
): (fault: unknown, options?: unknown) => void {
  return server.failNext.bind(server) as (
    fault: unknown,
    options?: unknown,
  ) => void;
}

for (
  const [name, fault, options, shown] of [
    ["a string status", { status: "503" }, undefined, '"503" (string)'],
    ["a string delayMs", { delayMs: "5" }, undefined, '"5" (string)'],
    ["a string times", "network", { times: "2" }, '"2" (string)'],
    [
      "an endpoint in the wrong case",
      "network",
      { endpoint: "Me" },
      '"Me" (string)',
    ],
    ["an endpoint instead of options", "network", "me", '"me" (string)'],
    ["a number fault", 503, undefined, "503 (number)"],
    ["a null fault", null, undefined, "null (null)"],
  ] as const
) {
  Deno.test(`failNext() with ${name} is a TypeError showing ${shown}`, () => {
    const failNext = untypedFailNext(new FakeAccountsServer());
    assert.throws(
      () => failNext(fault, options),
      (error: Error) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.ok(error.message.includes(shown), error.message);
        return true;
      },
    );
  });
}

Deno.test("failNext() rejects a fault with both a status and a delayMs", () => {
  const server = new FakeAccountsServer();
  assert.throws(() => server.failNext({ status: 503, delayMs: 5 }), TypeError);
});

Deno.test("failNext() rejects a body that is not JSON-serializable with a TypeError", () => {
  const server = new FakeAccountsServer();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(
    () => server.failNext({ status: 500, body: cyclic }),
    TypeError,
  );
  assert.throws(() => server.failNext({ status: 500, body: 1n }), TypeError);
});

Deno.test("failNext() rejects invalid fault headers with a TypeError", () => {
  const server = new FakeAccountsServer();
  assert.throws(
    () => server.failNext({ status: 429, headers: { "bad name": "1" } }),
    TypeError,
  );
});

// --- Web API faults ------------------------------------------------------

Deno.test("a 'me' fault answers the next GET /v1/me with it, then normally", async () => {
  const server = new FakeAccountsServer();
  const { accessToken } = server.issueTokens();
  server.failNext({ status: 429, headers: { "retry-after": "2" } }, {
    endpoint: "me",
  });
  const response = await server.fetch(ME_URL, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "2");
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  await response.body?.cancel();
  assert.equal((await getMe(server.fetch, accessToken)).status, 200);
  assert.deepEqual(
    server.requests.map(({ endpoint, status }) => [endpoint, status]),
    [["me", 429], ["me", 200]],
  );
  assert.equal(server.tokenRequestCount, 0);
});

Deno.test("a 'me' fault applies before the token check, even without a token", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 503, body: { error: { status: 503 } } }, {
    endpoint: "me",
  });
  const answer = await getMe(server.fetch, undefined);
  assert.equal(answer.status, 503);
  assert.deepEqual(answer.body, { error: { status: 503 } });
  assert.equal((await getMe(server.fetch, undefined)).status, 401);
});

Deno.test("a 'me' fault applies to /v1/me/ (trailing slash)", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 502 }, { endpoint: "me" });
  const response = await server.fetch(`${ME_URL}/`);
  assert.equal(response.status, 502);
  await response.body?.cancel();
});

Deno.test("a CORS preflight to /v1/me does not consume a 'me' fault", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 429 }, { endpoint: "me" });
  const preflight = await server.fetch(ME_URL, {
    method: "OPTIONS",
    headers: {
      origin: "http://127.0.0.1:5173",
      "access-control-request-method": "GET",
    },
  });
  assert.equal(preflight.status, 204);
  const response = await server.fetch(ME_URL);
  assert.equal(response.status, 429);
  await response.body?.cancel();
});

Deno.test("a 'me' fault waits for the next GET /v1/me: other methods do not consume it", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 503 }, { endpoint: "me" });
  const put = await server.fetch(ME_URL, { method: "PUT" });
  assert.equal(put.status, 405);
  await put.body?.cancel();
  const response = await server.fetch(ME_URL);
  assert.equal(response.status, 503);
  await response.body?.cancel();
});

Deno.test("'network', 'malformed' and { delayMs } faults work on /v1/me", async () => {
  const server = new FakeAccountsServer();
  const { accessToken } = server.issueTokens();
  server.failNext("network", { endpoint: "me" });
  server.failNext("malformed", { endpoint: "me" });
  server.failNext({ delayMs: 1 }, { endpoint: "me" });
  await assert.rejects(getMe(server.fetch, accessToken), TypeError);
  const malformed = await server.fetch(ME_URL, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  assert.equal(malformed.status, 200);
  assert.equal(malformed.headers.get("access-control-allow-origin"), "*");
  await assert.rejects(malformed.json(), SyntaxError);
  const delayed = await getMe(server.fetch, accessToken);
  assert.equal(delayed.status, 200);
  assert.equal(delayed.body.id, "test-user");
  assert.deepEqual(server.requests.map(({ status }) => status), [0, 200, 200]);
});

Deno.test("'me' faults and token faults do not take each other's requests", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 429 }, { endpoint: "me" });
  server.failNext({ status: 503 });
  const token = await postToken(server.fetch, CLIENT_CREDENTIALS);
  assert.equal(token.status, 503);
  const me = await server.fetch(ME_URL);
  assert.equal(me.status, 429);
  await me.body?.cancel();
  assert.equal((await postToken(server.fetch, CLIENT_CREDENTIALS)).status, 200);
  assert.equal(server.tokenRequestCount, 2);
});

// --- over HTTP -----------------------------------------------------------

Deno.test("url throws a clear error when the server is not listening", () => {
  const server = new FakeAccountsServer();
  assert.throws(() => server.url, /not listening.*listen\(\)/);
});

Deno.test("listen() serves the fake over HTTP until close()", async () => {
  const server = new FakeAccountsServer();
  const url = await server.listen();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.url, url);
  await assert.rejects(server.listen(), /already listening/);
  const answer = await postToken(
    fetch,
    CLIENT_CREDENTIALS,
    {},
    `${url}/api/token`,
  );
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("access-control-allow-origin"), "*");
  await server.close();
  assert.throws(() => server.url);
  await server.close();
});

Deno.test("over HTTP, GET /authorize redirects and /v1/me answers", async () => {
  await using server = new FakeAccountsServer();
  await server.listen();
  const redirect = await fetch(
    authorizeUrl({ state: "s" }).replace(
      "https://accounts.spotify.com",
      server.url,
    ),
    { redirect: "manual" },
  );
  assert.equal(redirect.status, 302);
  assert.equal(
    redirect.headers.get("location"),
    `${REDIRECT_URI}?code=fake-code-1&state=s`,
  );
  await redirect.body?.cancel();
  const { accessToken } = server.issueTokens();
  const me = await getMe(fetch, accessToken, `${server.url}/v1/me`);
  assert.equal(me.body.id, "test-user");
});

Deno.test("over HTTP, a 'me' fault answers a browser's /v1/me with CORS headers, after its preflight", async () => {
  await using server = new FakeAccountsServer();
  await server.listen();
  server.failNext({ status: 429, headers: { "retry-after": "3" } }, {
    endpoint: "me",
  });
  const preflight = await fetch(`${server.url}/v1/me`, {
    method: "OPTIONS",
    headers: {
      origin: "http://127.0.0.1:5173",
      "access-control-request-method": "GET",
      "access-control-request-headers": "authorization",
    },
  });
  assert.equal(preflight.status, 204);
  await preflight.body?.cancel();
  const response = await fetch(`${server.url}/v1/me`, {
    headers: { authorization: "Bearer fake-access-1" },
  });
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "3");
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  await response.body?.cancel();
});

Deno.test("over HTTP, a 'network' fault makes the client's fetch reject with TypeError", async () => {
  await using server = new FakeAccountsServer();
  await server.listen();
  server.failNext("network");
  await assert.rejects(
    postToken(fetch, CLIENT_CREDENTIALS, {}, `${server.url}/api/token`),
    TypeError,
  );
  const answer = await postToken(
    fetch,
    CLIENT_CREDENTIALS,
    {},
    `${server.url}/api/token`,
  );
  assert.equal(answer.status, 200);
  assert.equal(server.requests[0].status, 0);
});

Deno.test("over HTTP, aborting during a { delayMs } fault rejects and lets close() finish", async () => {
  await using server = new FakeAccountsServer();
  await server.listen();
  server.failNext({ delayMs: 60_000 });
  const controller = new AbortController();
  const reason = new Error("timeout");
  const pending = fetch(`${server.url}/api/token`, {
    method: "POST",
    headers: { authorization: BASIC },
    body: new URLSearchParams(CLIENT_CREDENTIALS),
    signal: controller.signal,
  });
  // Abort once the server has received the request.
  while (server.tokenRequestCount === 0) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  await server.close();
});

Deno.test("a spotipy-style client (Basic, charset form, '+' spaces) completes the code flow over HTTP", async () => {
  await using server = new FakeAccountsServer();
  await server.listen();
  // spotipy: urlencode() with quote_plus, Basic of the raw id:secret.
  const authorize = `${server.url}/authorize?client_id=${CLIENT_ID}` +
    `&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}` +
    `&scope=user-read-private+user-library-read&show_dialog=True`;
  const redirect = await fetch(authorize, { redirect: "manual" });
  await redirect.body?.cancel();
  const code = new URL(redirect.headers.get("location")!).searchParams.get(
    "code",
  )!;
  const headers = {
    Authorization: `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`,
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
    "User-Agent": "python-requests/2.32.3",
  };
  const exchanged = await fetch(`${server.url}/api/token`, {
    method: "POST",
    headers,
    body: `redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code=${code}` +
      `&grant_type=authorization_code`,
  });
  const tokens = await exchanged.json();
  assert.equal(exchanged.status, 200);
  assert.equal(tokens.scope, "user-read-private user-library-read");
  const refreshed = await fetch(`${server.url}/api/token`, {
    method: "POST",
    headers,
    body: `refresh_token=${tokens.refresh_token}&grant_type=refresh_token`,
  });
  assert.equal(refreshed.status, 200);
  assert.equal(typeof (await refreshed.json()).expires_in, "number");
});
