import assert from "node:assert/strict";
import {
  AuthorizationCode,
  type AuthorizationCodeOptions,
  createCodeChallenge,
  SpotifyAuthError,
} from "../mod.ts";
import {
  FakeAccountsServer,
  type FakeAccountsServerOptions,
  FakeClock,
  FakeTokenCache,
} from "../testing/mod.ts";

const CLIENT_ID = "test-client-id";
const CLIENT_SECRET = "test-client-secret";
const REDIRECT_URI = "http://127.0.0.1:8080/callback";

function setup(
  options: AuthorizationCodeOptions = {},
  serverOptions: FakeAccountsServerOptions = {},
) {
  const clock = new FakeClock(1_700_000_000_000);
  const server = new FakeAccountsServer({ clock, ...serverOptions });
  const auth = new AuthorizationCode({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    scope: "user-read-private",
    fetch: server.fetch,
    clock,
    retryDelayMs: 0,
    ...options,
  });
  return { clock, server, auth };
}

async function login(auth: AuthorizationCode, server: FakeAccountsServer) {
  const url = await auth.getAuthorizationUrl({ state: "state-1" });
  const callback = await server.authorize(url);
  const code = auth.parseResponseUrl(callback, { expectedState: "state-1" });
  return await auth.exchangeCode(code);
}

Deno.test("AuthorizationCode.getAuthorizationUrl() carries every parameter", async () => {
  const { auth } = setup({
    scope: ["user-read-private", "playlist-read-private"],
  });
  await using _ = auth;
  const url = new URL(
    await auth.getAuthorizationUrl({ state: "xyz", showDialog: true }),
  );
  assert.equal(
    url.origin + url.pathname,
    "https://accounts.spotify.com/authorize",
  );
  assert.equal(url.searchParams.get("client_id"), CLIENT_ID);
  assert.equal(url.searchParams.get("response_type"), "code");
  assert.equal(url.searchParams.get("redirect_uri"), REDIRECT_URI);
  assert.equal(
    url.searchParams.get("scope"),
    "user-read-private playlist-read-private",
  );
  assert.equal(url.searchParams.get("state"), "xyz");
  assert.equal(url.searchParams.get("show_dialog"), "true");
  assert.equal(url.searchParams.get("code_challenge"), null);
});

Deno.test("AuthorizationCode.getAuthorizationUrl() leaves out show_dialog unless asked", async () => {
  const { auth } = setup();
  await using _ = auth;
  const url = new URL(await auth.getAuthorizationUrl({ state: "s" }));
  assert.equal(url.searchParams.has("show_dialog"), false);
});

Deno.test("AuthorizationCode normalises scopes given with commas, spaces or arrays", async () => {
  for (
    const scope of [
      "user-read-private,playlist-read-private",
      "user-read-private  playlist-read-private user-read-private",
      ["user-read-private", "playlist-read-private", "user-read-private"],
      ["user-read-private, playlist-read-private"],
    ]
  ) {
    const { auth } = setup({ scope });
    await using _ = auth;
    const url = new URL(await auth.getAuthorizationUrl({ state: "s" }));
    assert.equal(
      url.searchParams.get("scope"),
      "user-read-private playlist-read-private",
    );
  }
  const { auth } = setup();
  await using _ = auth;
  const url = new URL(
    await auth.getAuthorizationUrl({ state: "s", scope: ["user-top-read"] }),
  );
  assert.equal(url.searchParams.get("scope"), "user-top-read");
});

Deno.test("AuthorizationCode.createAuthorizationRequest() makes a random state and a PKCE pair", async () => {
  const { auth } = setup({ pkce: true, clientSecret: undefined });
  await using _ = auth;
  const first = await auth.createAuthorizationRequest();
  const second = await auth.createAuthorizationRequest();
  assert.match(first.state, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(first.state, second.state);
  assert.match(first.codeVerifier!, /^[A-Za-z0-9_-]{43}$/);
  const url = new URL(first.url);
  assert.equal(url.searchParams.get("state"), first.state);
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  assert.equal(
    url.searchParams.get("code_challenge"),
    await createCodeChallenge(first.codeVerifier!),
  );
});

Deno.test("AuthorizationCode.parseResponseUrl() returns the code when the state matches", () => {
  assert.equal(
    AuthorizationCode.parseResponseUrl(`${REDIRECT_URI}?code=abc&state=s1`, {
      expectedState: "s1",
    }),
    "abc",
  );
});

Deno.test("AuthorizationCode.parseResponseUrl() checks the state before anything else", () => {
  const cases = [
    `${REDIRECT_URI}?code=abc`,
    `${REDIRECT_URI}?code=abc&state=other`,
    `${REDIRECT_URI}?error=access_denied`,
    `${REDIRECT_URI}?error=access_denied&state=forged`,
    `${REDIRECT_URI}?state=s11`,
    `${REDIRECT_URI}?state=s`,
  ];
  for (const url of cases) {
    assert.throws(
      () => AuthorizationCode.parseResponseUrl(url, { expectedState: "s1" }),
      (error: unknown) =>
        error instanceof SpotifyAuthError && error.code === "state_mismatch",
      url,
    );
  }
});

Deno.test("AuthorizationCode.parseResponseUrl() reports access_denied and other errors", () => {
  assert.throws(
    () =>
      AuthorizationCode.parseResponseUrl(
        `${REDIRECT_URI}?error=access_denied&state=s1`,
        { expectedState: "s1" },
      ),
    { name: "SpotifyAuthError", code: "access_denied" },
  );
  assert.throws(
    () =>
      AuthorizationCode.parseResponseUrl(
        `${REDIRECT_URI}?error=server_error&error_description=Oops&state=s1`,
        { expectedState: "s1" },
      ),
    { code: "server_error", description: "Oops" },
  );
});

Deno.test("AuthorizationCode.parseResponseUrl() reports missing_code", () => {
  assert.throws(
    () =>
      AuthorizationCode.parseResponseUrl(`${REDIRECT_URI}?state=s1`, {
        expectedState: "s1",
      }),
    { code: "missing_code" },
  );
});

Deno.test("AuthorizationCode.parseResponseUrl() needs an expected state and a URL", () => {
  assert.throws(
    () =>
      AuthorizationCode.parseResponseUrl(`${REDIRECT_URI}?code=a&state=s`, {
        expectedState: "",
      }),
    TypeError,
  );
  assert.throws(
    () =>
      AuthorizationCode.parseResponseUrl("not a url", { expectedState: "s" }),
    TypeError,
  );
});

Deno.test("AuthorizationCode#parseResponseUrl() without expectedState accepts only states it issued", async () => {
  const { auth } = setup();
  await using _ = auth;
  const url = new URL(await auth.getAuthorizationUrl());
  const state = url.searchParams.get("state")!;
  assert.match(state, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(
    auth.parseResponseUrl(`${REDIRECT_URI}?code=c&state=${state}`),
    "c",
  );
  assert.throws(
    () => auth.parseResponseUrl(`${REDIRECT_URI}?code=c&state=guess`),
    { code: "state_mismatch" },
  );
});

Deno.test("AuthorizationCode exchanges a code and stores the tokens", async () => {
  const cache = new FakeTokenCache();
  const { server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const token = await login(auth, server);
  assert.ok(token.refreshToken);
  assert.equal(token.scope, "user-read-private");
  assert.equal(cache.token, token);
  assert.equal(await auth.getAccessToken(), token.accessToken);
  assert.equal(
    server.inspectAccessToken(token.accessToken)?.userId,
    "test-user",
  );
  assert.deepEqual(
    server.requests.filter((r) => r.endpoint === "token").map((r) =>
      r.grantType
    ),
    ["authorization_code"],
  );
});

Deno.test("AuthorizationCode refreshes an expired token and keeps the refresh token", async () => {
  const { clock, server, auth } = setup();
  await using _ = auth;
  const first = await login(auth, server);
  clock.tick(3600 * 1000);
  const second = await auth.getAccessToken();
  assert.notEqual(second, first.accessToken);
  assert.ok(server.inspectAccessToken(second));
  clock.tick(3600 * 1000);
  const third = await auth.getAccessToken();
  assert.notEqual(third, second);
  const grants = server.requests.filter((r) => r.endpoint === "token").map((
    r,
  ) => r.grantType);
  assert.deepEqual(grants, [
    "authorization_code",
    "refresh_token",
    "refresh_token",
  ]);
});

Deno.test("AuthorizationCode follows rotating refresh tokens", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup(
    { tokenCache: cache },
    { refreshTokenRotation: "always" },
  );
  await using _ = auth;
  const first = await login(auth, server);
  for (let i = 0; i < 3; i++) {
    clock.tick(3600 * 1000);
    await auth.getAccessToken();
  }
  const latest = cache.token!;
  assert.notEqual(latest.refreshToken, first.refreshToken);
  assert.equal(new Set(cache.history.map((t) => t.refreshToken)).size, 4);
  assert.equal(latest.scope, "user-read-private");
});

Deno.test("AuthorizationCode keeps the old refresh token when the response omits it", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const first = await login(auth, server);
  clock.tick(3600 * 1000);
  await auth.getAccessToken();
  assert.equal(cache.token?.refreshToken, first.refreshToken);
});

Deno.test("AuthorizationCode removes a revoked refresh token from the cache, once", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const token = await login(auth, server);
  server.revokeRefreshToken(token.refreshToken!);
  clock.tick(3600 * 1000);
  const error = await auth.getAccessToken().catch((e) => e);
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.ok(error.cause instanceof SpotifyAuthError);
  assert.equal(error.cause.code, "invalid_grant");
  assert.equal(error.cause.description, "Refresh token revoked");
  assert.equal(cache.token, undefined);
  assert.equal(cache.deletes, 1);
  assert.equal(cache.sets, 1);
  assert.ok(!error.message.includes(token.refreshToken!));
});

Deno.test("AuthorizationCode leaves the cache untouched when refreshes keep failing", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup({ tokenCache: cache, maxRetries: 1 });
  await using _ = auth;
  const token = await login(auth, server);
  clock.tick(3600 * 1000);
  server.failNext({ status: 503 }, { times: 2 });
  await assert.rejects(auth.getAccessToken(), { code: "http_error" });
  server.failNext("network", { times: 2 });
  await assert.rejects(auth.getAccessToken(), { code: "network_error" });
  assert.equal(cache.token, token);
  assert.ok(await auth.getAccessToken(), "recovers when the service does");
});

Deno.test("AuthorizationCode rejects a reused code with invalid_grant", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const url = await auth.getAuthorizationUrl({ state: "s" });
  const code = auth.parseResponseUrl(await server.authorize(url), {
    expectedState: "s",
  });
  await auth.exchangeCode(code);
  const error = await auth.exchangeCode(code).catch((e) => e);
  assert.equal(error.code, "invalid_grant");
  assert.equal(error.description, "Invalid authorization code");
});

Deno.test("AuthorizationCode rejects an expired code with invalid_grant", async () => {
  const { clock, server, auth } = setup();
  await using _ = auth;
  const url = await auth.getAuthorizationUrl({ state: "s" });
  const code = auth.parseResponseUrl(await server.authorize(url), {
    expectedState: "s",
  });
  clock.tick(601 * 1000);
  const error = await auth.exchangeCode(code).catch((e) => e);
  assert.equal(error.code, "invalid_grant");
  assert.equal(error.description, "Authorization code expired");
});

Deno.test("AuthorizationCode rejects an exchange with another redirect URI", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const url = await auth.getAuthorizationUrl({ state: "s" });
  const code = auth.parseResponseUrl(await server.authorize(url), {
    expectedState: "s",
  });
  const error = await auth.exchangeCode(code, {
    redirectUri: "http://127.0.0.1:9999/callback",
  }).catch((e) => e);
  assert.equal(error.code, "invalid_grant");
  assert.equal(error.description, "Invalid redirect URI");
});

Deno.test("AuthorizationCode with PKCE rejects a wrong verifier", async () => {
  const { server, auth } = setup({ pkce: true, clientSecret: undefined });
  await using _ = auth;
  const { url, state } = await auth.createAuthorizationRequest();
  const code = AuthorizationCode.parseResponseUrl(await server.authorize(url), {
    expectedState: state,
  });
  const other = await auth.createAuthorizationRequest();
  const error = await auth.exchangeCode(code, {
    codeVerifier: other.codeVerifier,
  })
    .catch((e) => e);
  assert.equal(error.code, "invalid_grant");
  assert.equal(error.description, "code_verifier was incorrect");
});

Deno.test("AuthorizationCode with PKCE runs the whole flow with no client secret anywhere", async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const server = new FakeAccountsServer({
    clock,
    clients: [{ clientId: "public-app", redirectUris: [REDIRECT_URI] }],
    refreshTokenRotation: "never",
  });
  const seen: string[] = [];
  await using auth = new AuthorizationCode({
    clientId: "public-app",
    redirectUri: REDIRECT_URI,
    scope: "user-read-email",
    pkce: true,
    clock,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      seen.push(
        `${request.headers.get("authorization")} ${await request.clone()
          .text()}`,
      );
      return server.fetch(request);
    },
  });
  const url = await auth.getAuthorizationUrl({ state: "s" });
  const code = auth.parseResponseUrl(await server.authorize(url), {
    expectedState: "s",
  });
  const token = await auth.exchangeCode(code); // verifier remembered for "s"
  clock.tick(3600 * 1000);
  const refreshed = await auth.getAccessToken();
  assert.notEqual(refreshed, token.accessToken);
  assert.equal(seen.length, 2);
  for (const line of seen) {
    assert.match(line, /^null /, "no Authorization header");
    assert.match(line, /client_id=public-app/);
    assert.doesNotMatch(line, /client_secret/);
  }
  assert.match(seen[0], /code_verifier=/);
  assert.match(seen[1], /grant_type=refresh_token/);
});

Deno.test("AuthorizationCode with PKCE asks for the verifier when it cannot tell", async () => {
  const { server, auth } = setup({ pkce: true, clientSecret: undefined });
  await using _ = auth;
  const first = await auth.getAuthorizationUrl({ state: "a" });
  await auth.getAuthorizationUrl({ state: "b" });
  const code = AuthorizationCode.parseResponseUrl(
    await server.authorize(first),
    {
      expectedState: "a",
    },
  );
  await assert.rejects(auth.exchangeCode(code), /codeVerifier/);
  // After the instance itself accepted the callback, it knows the verifier.
  const again = auth.parseResponseUrl(await server.authorize(first), {
    expectedState: "a",
  });
  assert.ok((await auth.exchangeCode(again)).refreshToken);
});

Deno.test("AuthorizationCode rejects a code response without a refresh token", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  server.failNext({
    status: 200,
    body: JSON.stringify({
      access_token: "a",
      token_type: "Bearer",
      expires_in: 3600,
    }),
  });
  await assert.rejects(auth.exchangeCode("some-code"), {
    code: "invalid_response",
  });
});

Deno.test("AuthorizationCode starts from a stored refresh token", async () => {
  const server = new FakeAccountsServer();
  const stored = server.issueTokens({ scope: "user-read-private" });
  await using auth = new AuthorizationCode({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    refreshToken: stored.refreshToken,
    fetch: server.fetch,
  });
  const token = await auth.getAccessToken();
  assert.equal(server.inspectAccessToken(token)?.userId, "test-user");
  assert.equal(server.requests.at(-1)?.grantType, "refresh_token");
});

Deno.test("AuthorizationCode without any token asks for authorization", async () => {
  const { server, auth } = setup();
  await using _ = auth;
  const error = await auth.getAccessToken().catch((e) => e);
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.match(error.message, /authorizeLocal/);
  assert.equal(server.tokenRequestCount, 0);
});

Deno.test("AuthorizationCode reads the redirect URI from the environment", async () => {
  Deno.env.set("SPOTIFY_SDK_REDIRECT_URI", REDIRECT_URI);
  try {
    await using auth = new AuthorizationCode({
      clientId: CLIENT_ID,
      pkce: true,
    });
    assert.equal(auth.redirectUri, REDIRECT_URI);
  } finally {
    Deno.env.delete("SPOTIFY_SDK_REDIRECT_URI");
  }
  assert.throws(
    () => new AuthorizationCode({ clientId: CLIENT_ID, pkce: true }),
    /SPOTIFY_SDK_REDIRECT_URI/,
  );
  assert.throws(
    () =>
      new AuthorizationCode({
        clientId: CLIENT_ID,
        pkce: true,
        redirectUri: "/cb",
      }),
    TypeError,
  );
});

Deno.test("AuthorizationCode never shows its secret, tokens, code or verifier", async () => {
  const { server, auth } = setup({ pkce: true, clientSecret: undefined });
  await using _ = auth;
  const { url, state, codeVerifier } = await auth.createAuthorizationRequest();
  const code = AuthorizationCode.parseResponseUrl(await server.authorize(url), {
    expectedState: state,
  });
  const token = await auth.exchangeCode(code, { codeVerifier });
  const reuse = await auth.exchangeCode(code, { codeVerifier }).catch((e) => e);
  // The error below is only worth inspecting if reusing the code failed.
  assert.ok(reuse instanceof SpotifyAuthError, String(reuse));
  assert.equal(reuse.code, "invalid_grant");
  const shown = [
    Deno.inspect(auth, { depth: 10, showHidden: true }),
    JSON.stringify(auth),
    String(reuse),
    reuse.stack,
    Deno.inspect(reuse),
    JSON.stringify(server.requests),
  ].join("\n");
  for (
    const secret of [
      CLIENT_SECRET,
      token.accessToken,
      token.refreshToken!,
      code,
      codeVerifier!,
    ]
  ) {
    assert.ok(!shown.includes(secret), "secret leaked");
  }
});

Deno.test("AuthorizationCode with PKCE remembers the verifier of createAuthorizationRequest() too", async () => {
  const { server, auth } = setup({ pkce: true, clientSecret: undefined });
  await using _ = auth;
  const { url, state } = await auth.createAuthorizationRequest();
  const code = auth.parseResponseUrl(await server.authorize(url), {
    expectedState: state,
  });
  assert.ok((await auth.exchangeCode(code)).refreshToken);
  // Forgotten once used: the same state is no longer accepted without expectedState.
  assert.throws(
    () => auth.parseResponseUrl(`${REDIRECT_URI}?code=c&state=${state}`),
    { code: "state_mismatch" },
  );
});
