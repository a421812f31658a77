import assert from "node:assert/strict";
import {
  AuthorizationCode,
  type AuthProvider,
  ClientCredentials,
  createAuthorizedFetch,
  type GetAccessTokenOptions,
  SpotifyAuthError,
} from "../mod.ts";
import {
  FakeAccountsServer,
  FakeAuthProvider,
  FakeClock,
} from "../testing/mod.ts";

const ME = "https://api.spotify.com/v1/me";

interface Sent {
  method: string;
  token: string;
  body: string;
}

/**
 * A `fetch` that answers with `statuses` in turn (the last one repeats) and
 * records what it was sent. `headers` go on every answer.
 */
function scriptedFetch(
  statuses: readonly number[],
  headers: HeadersInit = {},
) {
  const sent: Sent[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    sent.push({
      method: request.method,
      token: request.headers.get("authorization")?.replace(/^Bearer /, "") ??
        "",
      body: await request.text(),
    });
    const status = statuses[Math.min(sent.length, statuses.length) - 1];
    return new Response(status === 204 ? null : `answer ${sent.length}`, {
      status,
      headers,
    });
  };
  return { fetch, sent };
}

/** A provider that hands out `token-1`, `token-2`, … and records options. */
class CountingProvider implements AuthProvider {
  readonly calls: GetAccessTokenOptions[] = [];
  #next = 1;
  #token = "token-1";

  getAccessToken(options: GetAccessTokenOptions = {}): Promise<string> {
    this.calls.push(options);
    if (options.forceRefresh) this.#token = `token-${++this.#next}`;
    return Promise.resolve(this.#token);
  }

  get forcedRefreshes(): number {
    return this.calls.filter((options) => options.forceRefresh).length;
  }
}

function authorizationRequired(): SpotifyAuthError {
  return new SpotifyAuthError(
    "authorization_required",
    "The user's authorization expired or was revoked: sign in again",
    { status: 400 },
  );
}

Deno.test("createAuthorizedFetch() adds the bearer token", async () => {
  const seen: string[] = [];
  const provider = new FakeAuthProvider("token-1");
  const authorizedFetch = createAuthorizedFetch(provider, {
    fetch: (input, init) => {
      seen.push(new Request(input, init).headers.get("authorization") ?? "");
      return Promise.resolve(new Response("ok"));
    },
  });
  const response = await authorizedFetch(
    "https://api.spotify.com/v1/tracks/1",
    {
      headers: { accept: "application/json" },
    },
  );
  assert.equal(await response.text(), "ok");
  assert.deepEqual(seen, ["Bearer token-1"]);
});

Deno.test("createAuthorizedFetch() leaves the caller's Request untouched", async () => {
  const { fetch, sent } = scriptedFetch([200]);
  const request = new Request("https://api.spotify.com/v1/me", {
    headers: { authorization: "Bearer caller" },
  });
  const response = await createAuthorizedFetch(new FakeAuthProvider("ours"), {
    fetch,
  })(request);
  await response.body?.cancel();
  assert.equal(sent[0].token, "ours");
  assert.equal(request.headers.get("authorization"), "Bearer caller");
});

Deno.test("createAuthorizedFetch() replaces an Authorization header the caller set, in any form of headers", async () => {
  for (
    const headers of [
      { Authorization: "Bearer stale", accept: "application/json" },
      [["AUTHORIZATION", "Bearer stale"], ["accept", "application/json"]],
      new Headers({
        authorization: "Bearer stale",
        accept: "application/json",
      }),
    ] as HeadersInit[]
  ) {
    const seen: Headers[] = [];
    const response = await createAuthorizedFetch(new FakeAuthProvider("ours"), {
      fetch: (input, init) => {
        seen.push(new Request(input, init).headers);
        return Promise.resolve(new Response(null, { status: 204 }));
      },
    })(ME, { headers });
    assert.equal(response.status, 204);
    assert.equal(seen[0].get("authorization"), "Bearer ours");
    assert.equal(seen[0].get("accept"), "application/json");
  }
});

Deno.test("createAuthorizedFetch() refreshes once and retries after a 401", async () => {
  const server = new FakeAccountsServer();
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch: server.fetch,
  });
  const revoked = await auth.getAccessToken();
  const sent: { token: string; body: string }[] = [];
  const authorizedFetch = createAuthorizedFetch(auth, {
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const token = request.headers.get("authorization")!.slice(7);
      sent.push({ token, body: await request.text() });
      return new Response(null, { status: token === revoked ? 401 : 200 });
    },
  });
  const response = await authorizedFetch(
    "https://api.spotify.com/v1/playlists",
    {
      method: "POST",
      body: '{"name":"x"}',
    },
  );
  assert.equal(response.status, 200);
  assert.equal(sent.length, 2);
  assert.equal(sent[0].token, revoked);
  assert.notEqual(sent[1].token, revoked);
  assert.equal(sent[1].body, '{"name":"x"}', "body sent again");
  assert.equal(server.tokenRequestCount, 2);
});

Deno.test("createAuthorizedFetch() makes one refresh-and-resend round on a persistent 401, not two", async () => {
  const server = new FakeAccountsServer();
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch: server.fetch,
  });
  const { fetch, sent } = scriptedFetch([401]);
  const response = await createAuthorizedFetch(auth, { fetch })(ME);
  assert.equal(response.status, 401);
  assert.equal(await response.text(), "answer 2");
  assert.equal(sent.length, 2, "one first send, one resend");
  assert.notEqual(sent[0].token, sent[1].token);
  assert.equal(server.tokenRequestCount, 2, "one token, one forced refresh");
});

Deno.test("createAuthorizedFetch() returns the 401 when the provider cannot refresh", async () => {
  const { fetch, sent } = scriptedFetch([401]);
  const response = await createAuthorizedFetch(new FakeAuthProvider("same"), {
    fetch,
  })(ME);
  assert.equal(response.status, 401);
  assert.equal(await response.text(), "answer 1", "the 401 is still readable");
  assert.equal(sent.length, 1);
});

Deno.test("createAuthorizedFetch() rejects with authorization_required when the refresh after a 401 finds the user signed out", async () => {
  let cancelled = false;
  const provider: AuthProvider = {
    getAccessToken: (options?: GetAccessTokenOptions) =>
      options?.forceRefresh
        ? Promise.reject(authorizationRequired())
        : Promise.resolve("token-1"),
  };
  const authorizedFetch = createAuthorizedFetch(provider, {
    fetch: () =>
      Promise.resolve(
        new Response(
          new ReadableStream({
            cancel() {
              cancelled = true;
            },
          }),
          { status: 401 },
        ),
      ),
  });
  await assert.rejects(authorizedFetch(ME), (error) => {
    assert.ok(error instanceof SpotifyAuthError);
    assert.equal(error.code, "authorization_required");
    return true;
  });
  assert.ok(cancelled, "the 401 was freed");
});

Deno.test("createAuthorizedFetch() rejects with authorization_required when the user's sign-in expired before a 401", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock, refreshTokenTtlSeconds: 60 });
  const { refreshToken } = server.issueTokens({ scope: "user-read-private" });
  await using auth = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: "http://127.0.0.1:8080/callback",
    refreshToken,
    fetch: server.fetch,
    clock,
  });
  const revoked = await auth.getAccessToken();
  clock.tick(61_000);
  const { fetch, sent } = scriptedFetch([401]);
  await assert.rejects(
    createAuthorizedFetch(auth, { fetch })(ME),
    (error) => {
      assert.ok(error instanceof SpotifyAuthError);
      assert.equal(error.code, "authorization_required");
      return true;
    },
  );
  assert.deepEqual(sent.map((request) => request.token), [revoked]);
});

Deno.test("createAuthorizedFetch() rejects with authorization_required before sending when the provider has no user", async () => {
  const { fetch, sent } = scriptedFetch([200]);
  const provider: AuthProvider = {
    getAccessToken: () => Promise.reject(authorizationRequired()),
  };
  await assert.rejects(
    createAuthorizedFetch(provider, { fetch })(ME),
    (error) =>
      error instanceof SpotifyAuthError &&
      error.code === "authorization_required",
  );
  assert.equal(sent.length, 0);
});

Deno.test("createAuthorizedFetch() waits out a 429's Retry-After and sends again", async () => {
  const { fetch, sent } = scriptedFetch([429, 200], { "retry-after": "0" });
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })(ME);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "answer 2");
  assert.equal(sent.length, 2);
});

Deno.test("createAuthorizedFetch() asks the provider for the token again after a wait, in case it expired meanwhile", async () => {
  const { fetch, sent } = scriptedFetch([429, 503, 200], {
    "retry-after": "0",
  });
  const response = await createAuthorizedFetch(
    new FakeAuthProvider(["first", "second", "third"]),
    { fetch, retryDelayMs: 0 },
  )(ME);
  await response.body?.cancel();
  assert.deepEqual(sent.map((request) => request.token), [
    "first",
    "second",
    "third",
  ]);
});

Deno.test("createAuthorizedFetch() waits as long as Retry-After says", async () => {
  const { fetch, sent } = scriptedFetch([429, 200], { "retry-after": "1" });
  const started = performance.now();
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })(ME);
  const waitedMs = performance.now() - started;
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(sent.length, 2);
  assert.ok(waitedMs >= 990, `waited only ${waitedMs} ms`);
});

Deno.test("createAuthorizedFetch() reads a Retry-After HTTP date", async () => {
  const past = new Date(Date.now() - 60_000).toUTCString();
  const { fetch, sent } = scriptedFetch([429, 200], { "retry-after": past });
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })(ME);
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(sent.length, 2);
});

Deno.test("createAuthorizedFetch() retries a rate-limited POST and sends its body again each time", async () => {
  const { fetch, sent } = scriptedFetch([429, 429, 201], {
    "retry-after": "0",
  });
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })("https://api.spotify.com/v1/users/u/playlists", {
    method: "POST",
    body: JSON.stringify({ name: "Road trip" }),
  });
  await response.body?.cancel();
  assert.equal(response.status, 201);
  assert.deepEqual(sent.map((request) => request.body), [
    '{"name":"Road trip"}',
    '{"name":"Road trip"}',
    '{"name":"Road trip"}',
  ]);
  assert.ok(sent.every((request) => request.method === "POST"));
});

Deno.test("createAuthorizedFetch() sends a form body again on a retry", async () => {
  const { fetch, sent } = scriptedFetch([429, 200], { "retry-after": "0" });
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })("https://api.spotify.com/v1/me/player/queue", {
    method: "POST",
    body: new URLSearchParams({ uri: "spotify:track:1" }),
  });
  await response.body?.cancel();
  assert.deepEqual(sent.map((request) => request.body), [
    "uri=spotify%3Atrack%3A1",
    "uri=spotify%3Atrack%3A1",
  ]);
});

Deno.test("createAuthorizedFetch() sends a streamed body again whole on a retry", async () => {
  const { fetch, sent } = scriptedFetch([429, 200], { "retry-after": "0" });
  const chunks = ['{"a":', "1}"];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(chunk));
    },
  });
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })("https://api.spotify.com/v1/me/player/play", {
    method: "PUT",
    body,
    duplex: "half",
  } as RequestInit);
  await response.body?.cancel();
  assert.deepEqual(sent.map((request) => request.body), ['{"a":1}', '{"a":1}']);
});

Deno.test("createAuthorizedFetch() returns a 429 at once when Retry-After is above maxRetryAfterSeconds", async () => {
  const { fetch, sent } = scriptedFetch([429, 200], { "retry-after": "61" });
  const started = performance.now();
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })(ME);
  await response.body?.cancel();
  assert.equal(response.status, 429);
  assert.equal(sent.length, 1);
  assert.ok(performance.now() - started < 500, "no wait");
});

Deno.test("createAuthorizedFetch() waits a Retry-After equal to maxRetryAfterSeconds but not one second more", async () => {
  const equal = scriptedFetch([429, 200], { "retry-after": "0" });
  const atCap = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch: equal.fetch,
    maxRetryAfterSeconds: 0,
  })(ME);
  await atCap.body?.cancel();
  assert.equal(atCap.status, 200);

  const above = scriptedFetch([429, 200], { "retry-after": "1" });
  const overCap = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch: above.fetch,
    maxRetryAfterSeconds: 0,
  })(ME);
  await overCap.body?.cancel();
  assert.equal(overCap.status, 429);
  assert.equal(above.sent.length, 1);
});

Deno.test("createAuthorizedFetch() returns a 429 at once when Retry-After is missing or malformed", async () => {
  for (const value of [undefined, "", "-1", "1.5", "1e1", "soon", "0x10"]) {
    const { fetch, sent } = scriptedFetch(
      [429, 200],
      value === undefined ? {} : { "retry-after": value },
    );
    const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
      fetch,
    })(ME);
    await response.body?.cancel();
    assert.equal(response.status, 429, `Retry-After ${value}`);
    assert.equal(sent.length, 1, `Retry-After ${value}`);
  }
});

Deno.test("createAuthorizedFetch() returns the last 429 after maxRateLimitRetries retries", async () => {
  const { fetch, sent } = scriptedFetch([429], { "retry-after": "0" });
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
  })(ME);
  assert.equal(response.status, 429);
  assert.equal(await response.text(), "answer 4");
  assert.equal(sent.length, 4, "one send and the default 3 retries");

  const none = scriptedFetch([429, 200], { "retry-after": "0" });
  const once = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch: none.fetch,
    maxRateLimitRetries: 0,
  })(ME);
  await once.body?.cancel();
  assert.equal(once.status, 429);
  assert.equal(none.sent.length, 1);
});

Deno.test("createAuthorizedFetch() retries a GET after 502, 503 and 504", async () => {
  const { fetch, sent } = scriptedFetch([502, 503, 504, 200]);
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
    retryDelayMs: 0,
    maxRetries: 3,
  })(ME);
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(sent.length, 4);
});

Deno.test("createAuthorizedFetch() retries a HEAD after a 503", async () => {
  const { fetch, sent } = scriptedFetch([503, 204]);
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
    retryDelayMs: 0,
  })(ME, { method: "HEAD" });
  assert.equal(response.status, 204);
  assert.deepEqual(sent.map((request) => request.method), ["HEAD", "HEAD"]);
});

Deno.test("createAuthorizedFetch() returns the last 5xx after maxRetries retries", async () => {
  const { fetch, sent } = scriptedFetch([503]);
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
    retryDelayMs: 0,
  })(ME);
  assert.equal(response.status, 503);
  assert.equal(await response.text(), "answer 3");
  assert.equal(sent.length, 3, "one send and the default 2 retries");
});

Deno.test("createAuthorizedFetch() never retries a 5xx of a POST, PUT or DELETE", async () => {
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const { fetch, sent } = scriptedFetch([503, 200]);
    const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
      fetch,
      retryDelayMs: 0,
    })("https://api.spotify.com/v1/me/player/pause", { method });
    await response.body?.cancel();
    assert.equal(response.status, 503, method);
    assert.equal(sent.length, 1, method);
  }
});

Deno.test("createAuthorizedFetch() does not retry a 500", async () => {
  const { fetch, sent } = scriptedFetch([500, 200]);
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch,
    retryDelayMs: 0,
  })(ME);
  await response.body?.cancel();
  assert.equal(response.status, 500);
  assert.equal(sent.length, 1);
});

Deno.test("createAuthorizedFetch() gives 401, 429 and 5xx each their own budget", async () => {
  const provider = new CountingProvider();
  const { fetch, sent } = scriptedFetch([503, 429, 401, 503, 429, 200], {
    "retry-after": "0",
  });
  const response = await createAuthorizedFetch(provider, {
    fetch,
    retryDelayMs: 0,
    maxRetries: 2,
    maxRateLimitRetries: 2,
  })(ME);
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(sent.length, 6);
  assert.equal(provider.forcedRefreshes, 1, "only the 401 refreshed");
  assert.deepEqual(sent.map((request) => request.token), [
    "token-1",
    "token-1",
    "token-1",
    "token-2",
    "token-2",
    "token-2",
  ]);
});

Deno.test("createAuthorizedFetch() never forces a refresh on a 429 or a 5xx", async () => {
  const provider = new CountingProvider();
  const { fetch } = scriptedFetch([429, 503, 503, 429], { "retry-after": "0" });
  const response = await createAuthorizedFetch(provider, {
    fetch,
    retryDelayMs: 0,
    maxRateLimitRetries: 1,
  })(ME);
  await response.body?.cancel();
  assert.equal(response.status, 429);
  assert.equal(provider.forcedRefreshes, 0);
});

Deno.test("createAuthorizedFetch() cancels a response before sending the retry", async () => {
  const events: string[] = [];
  let sends = 0;
  const statuses = [401, 429, 503, 200];
  const response = await createAuthorizedFetch(new CountingProvider(), {
    retryDelayMs: 0,
    fetch: () => {
      const status = statuses[sends++];
      events.push(`send ${status}`);
      return Promise.resolve(
        new Response(
          new ReadableStream({
            cancel() {
              events.push(`cancel ${status}`);
            },
          }),
          { status, headers: { "retry-after": "0" } },
        ),
      );
    },
  })(ME);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.deepEqual(events, [
    "send 401",
    "cancel 401",
    "send 429",
    "cancel 429",
    "send 503",
    "cancel 503",
    "send 200",
    "cancel 200",
  ]);
});

Deno.test("createAuthorizedFetch() rejects with the signal's reason, sending nothing, when it is already aborted", async () => {
  const provider = new CountingProvider();
  const { fetch, sent } = scriptedFetch([200]);
  const reason = new Error("the user navigated away");
  await assert.rejects(
    createAuthorizedFetch(provider, { fetch })(ME, {
      signal: AbortSignal.abort(reason),
    }),
    (error) => error === reason,
  );
  assert.equal(sent.length, 0);
  assert.equal(provider.calls.length, 0, "no token asked for either");
});

Deno.test("createAuthorizedFetch() stops waiting out a 429 when the signal aborts", async () => {
  const controller = new AbortController();
  const reason = new Error("gave up");
  const { fetch, sent } = scriptedFetch([429, 200], { "retry-after": "30" });
  const call = createAuthorizedFetch(new FakeAuthProvider("t"), {
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      setTimeout(() => controller.abort(reason), 0);
      return response;
    },
  })(ME, { signal: controller.signal });
  await assert.rejects(call, (error) => error === reason);
  assert.equal(sent.length, 1);
});

Deno.test("createAuthorizedFetch() stops the backoff after a 503 when the signal aborts", async () => {
  const controller = new AbortController();
  const reason = new Error("gave up");
  const { fetch, sent } = scriptedFetch([503, 200]);
  const call = createAuthorizedFetch(new FakeAuthProvider("t"), {
    retryDelayMs: 60_000,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      // Scheduled before the backoff timer, so it fires first.
      setTimeout(() => controller.abort(reason), 0);
      return response;
    },
  })(ME, { signal: controller.signal });
  await assert.rejects(call, (error) => error === reason);
  assert.equal(sent.length, 1);
});

Deno.test("createAuthorizedFetch() leaves redirects to fetch, which keeps Authorization from another origin", async () => {
  const seen: { origin: string; authorization: string | null }[] = [];
  const record = (request: Request) =>
    seen.push({
      origin: new URL(request.url).port,
      authorization: request.headers.get("authorization"),
    });
  await using other = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      record(request);
      return new Response("elsewhere");
    },
  );
  await using api = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      record(request);
      return Response.redirect(`http://127.0.0.1:${other.addr.port}/x`, 307);
    },
  );
  const response = await createAuthorizedFetch(new FakeAuthProvider("t"))(
    `http://127.0.0.1:${api.addr.port}/v1/me`,
  );
  assert.equal(await response.text(), "elsewhere");
  assert.deepEqual(seen, [
    { origin: String(api.addr.port), authorization: "Bearer t" },
    { origin: String(other.addr.port), authorization: null },
  ]);
});

Deno.test("createAuthorizedFetch() rides out the fake Web API's rate limit and outage", async () => {
  const server = new FakeAccountsServer();
  const { refreshToken } = server.issueTokens({ scope: "user-read-private" });
  await using auth = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: "http://127.0.0.1:8080/callback",
    refreshToken,
    fetch: server.fetch,
  });
  server.failNext({ status: 429, headers: { "retry-after": "0" } }, {
    endpoint: "me",
  });
  server.failNext({ status: 503 }, { endpoint: "me", times: 2 });
  const response = await createAuthorizedFetch(auth, {
    fetch: server.fetch,
    retryDelayMs: 0,
  })(ME);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).id, "test-user");
  assert.deepEqual(
    server.requests.filter((request) => request.endpoint === "me").map((
      request,
    ) => request.status),
    [429, 503, 503, 200],
  );
});

Deno.test("createAuthorizedFetch() hands the fake Web API's long rate limit back at once", async () => {
  const server = new FakeAccountsServer();
  const { accessToken } = server.issueTokens({ scope: "user-read-private" });
  server.failNext({ status: 429, headers: { "retry-after": "3600" } }, {
    endpoint: "me",
  });
  const response = await createAuthorizedFetch(
    new FakeAuthProvider(accessToken),
    { fetch: server.fetch },
  )(ME);
  await response.body?.cancel();
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "3600");
});

Deno.test("createAuthorizedFetch() lets the fake answer /v1/me for an app token with 403", async () => {
  const server = new FakeAccountsServer();
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch: server.fetch,
  });
  const response = await createAuthorizedFetch(auth, { fetch: server.fetch })(
    "https://api.spotify.com/v1/me",
  );
  assert.equal(response.status, 403);
  const body = await response.json();
  assert.equal(body.error.status, 403);
});

Deno.test("createAuthorizedFetch() needs a provider", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => createAuthorizedFetch({} as any),
    TypeError,
  );
});

Deno.test("createAuthorizedFetch() names an option of the wrong type with its value", () => {
  const provider = new FakeAuthProvider();
  for (
    const [name, value, pattern] of [
      ["maxRetries", "2", /"maxRetries".*the string "2"/],
      ["maxRateLimitRetries", null, /"maxRateLimitRetries".*null/],
      ["maxRetryAfterSeconds", "60", /"maxRetryAfterSeconds".*the string "60"/],
      ["retryDelayMs", true, /"retryDelayMs".*the boolean true/],
      ["fetch", "https://proxy", /"fetch".*the string/],
    ] as const
  ) {
    assert.throws(
      () => createAuthorizedFetch(provider, { [name]: value }),
      (error) => error instanceof TypeError && pattern.test(error.message),
      name,
    );
  }
});

Deno.test("createAuthorizedFetch() refuses an out-of-range number with its value", () => {
  const provider = new FakeAuthProvider();
  for (
    const [name, value] of [
      ["maxRetries", -1],
      ["maxRetries", 1.5],
      ["maxRateLimitRetries", Infinity],
      ["maxRetryAfterSeconds", -1],
      ["maxRetryAfterSeconds", NaN],
      ["retryDelayMs", -5],
    ] as const
  ) {
    assert.throws(
      () => createAuthorizedFetch(provider, { [name]: value }),
      (error) =>
        error instanceof RangeError &&
        error.message.includes(`"${name}"`) &&
        error.message.includes(String(value)),
      `${name}: ${value}`,
    );
  }
});

Deno.test("createAuthorizedFetch() does not wait for a retried response's body to cancel", async () => {
  let calls = 0;
  const fetch = () => {
    calls++;
    if (calls > 1) return Promise.resolve(new Response("ok"));
    // A body whose cancel() never settles: the retry must not wait for it.
    const body = new ReadableStream({
      cancel: () => new Promise<void>(() => {}),
    });
    return Promise.resolve(new Response(body, { status: 503 }));
  };
  const authorizedFetch = createAuthorizedFetch(new CountingProvider(), {
    fetch,
    retryDelayMs: 0,
  });
  const response = await authorizedFetch(ME);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok");
  assert.equal(calls, 2);
});
