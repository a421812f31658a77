import assert from "node:assert/strict";
import { FakeAccountsServer, FakeClock } from "./mod.ts";
import {
  BASIC,
  CHALLENGE,
  CLIENT_ID,
  CLIENT_SECRET,
  exchange,
  getCode,
  getMe,
  postToken,
  REDIRECT_URI,
  TOKEN_URL,
  VERIFIER,
} from "./_test_helpers.ts";

const PUBLIC_CLIENT = {
  clientId: "public-client",
  redirectUris: ["http://127.0.0.1/callback"],
};
const OTHER_CLIENT = {
  clientId: "other-client",
  clientSecret: "other-secret",
  redirectUris: ["http://127.0.0.1/callback"],
};
const DEFAULT_CLIENT = {
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  redirectUris: ["http://127.0.0.1/callback"],
};

function error(error: string, error_description: string) {
  return { error, error_description };
}

// --- client credentials --------------------------------------------------

Deno.test("client_credentials returns exactly access_token, token_type and expires_in", async () => {
  const server = new FakeAccountsServer();
  const answer = await postToken(server.fetch, {
    grant_type: "client_credentials",
  });
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body, {
    access_token: "fake-access-1",
    token_type: "Bearer",
    expires_in: 3600,
  });
  assert.equal(answer.headers.get("content-type"), "application/json");
  assert.equal(answer.headers.get("access-control-allow-origin"), "*");
});

Deno.test("client_credentials accepts the credentials in the body", async () => {
  const server = new FakeAccountsServer();
  const answer = await postToken(server.fetch, {
    grant_type: "client_credentials",
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
  }, { authorization: null });
  assert.equal(answer.status, 200);
});

Deno.test("client_credentials ignores scope, even empty, and unknown parameters", async () => {
  const server = new FakeAccountsServer();
  const extras: Record<string, string>[] = [
    { scope: "" },
    { scope: "nonsense" },
    { foo: "bar" },
  ];
  for (const extra of extras) {
    const answer = await postToken(server.fetch, {
      grant_type: "client_credentials",
      ...extra,
    });
    assert.equal(answer.status, 200);
  }
});

Deno.test("the token endpoint parses the media type (parameters and case)", async () => {
  const server = new FakeAccountsServer();
  for (
    const contentType of [
      "application/x-www-form-urlencoded;charset=UTF-8",
      "Application/X-WWW-Form-Urlencoded ; charset=utf-8",
    ]
  ) {
    const answer = await postToken(server.fetch, {
      grant_type: "client_credentials",
    }, { contentType });
    assert.equal(answer.status, 200, contentType);
  }
});

Deno.test("expires_in is the accessTokenTtlSeconds option, as a number", async () => {
  const server = new FakeAccountsServer({ accessTokenTtlSeconds: 60 });
  const answer = await postToken(server.fetch, {
    grant_type: "client_credentials",
  });
  assert.equal(answer.body.expires_in, 60);
});

Deno.test("tokens are deterministic per server instance", async () => {
  const tokens = async () => {
    const server = new FakeAccountsServer();
    const first = await postToken(server.fetch, {
      grant_type: "client_credentials",
    });
    const second = await postToken(server.fetch, {
      grant_type: "client_credentials",
    });
    return [first.body.access_token, second.body.access_token];
  };
  assert.deepEqual(await tokens(), ["fake-access-1", "fake-access-2"]);
  assert.deepEqual(await tokens(), ["fake-access-1", "fake-access-2"]);
});

Deno.test("Basic credentials are base64 of the raw UTF-8 id:secret", async () => {
  const secret = "sécret:with:colons";
  const server = new FakeAccountsServer({
    clients: [{ clientId: "ünïcode", clientSecret: secret }],
  });
  const bytes = new TextEncoder().encode(`ünïcode:${secret}`);
  const basic = btoa(String.fromCharCode(...bytes));
  const answer = await postToken(server.fetch, {
    grant_type: "client_credentials",
  }, { authorization: `Basic ${basic}` });
  assert.equal(answer.status, 200);
});

// --- request errors (the table) ------------------------------------------

Deno.test("a JSON body is unsupported_grant_type 'grant_type parameter is missing'", async () => {
  const server = new FakeAccountsServer();
  const response = await server.fetch(TOKEN_URL, {
    method: "POST",
    headers: { authorization: BASIC, "content-type": "application/json" },
    body: JSON.stringify({ grant_type: "client_credentials" }),
  });
  assert.equal(response.status, 400);
  assert.deepEqual(
    await response.json(),
    error("unsupported_grant_type", "grant_type parameter is missing"),
  );
});

Deno.test("a missing grant_type is unsupported_grant_type 'grant_type parameter is missing'", async () => {
  const server = new FakeAccountsServer();
  const answer = await postToken(server.fetch, {});
  assert.equal(answer.status, 400);
  assert.deepEqual(
    answer.body,
    error("unsupported_grant_type", "grant_type parameter is missing"),
  );
});

Deno.test("an unknown grant_type is unsupported_grant_type naming the three grants", async () => {
  const server = new FakeAccountsServer();
  const answer = await postToken(server.fetch, { grant_type: "password" });
  assert.equal(answer.status, 400);
  assert.deepEqual(
    answer.body,
    error(
      "unsupported_grant_type",
      "grant_type must be client_credentials, authorization_code or refresh_token",
    ),
  );
});

for (
  const [name, authorization, body] of [
    ["an unknown client id", `Basic ${btoa("nobody:x")}`, {}],
    ["no client authentication", null, {}],
    ["an unknown client id in the body", null, {
      client_id: "nobody",
      client_secret: "x",
    }],
    ["a Basic header that is not base64", "Basic %%%", {}],
    ["a Basic header without a colon", `Basic ${btoa("no-colon")}`, {}],
    ["a Bearer header", "Bearer fake-access-1", {}],
    ["a body client_id that differs from Basic", BASIC, {
      client_id: "other-client",
    }],
  ] as const
) {
  Deno.test(`client_credentials with ${name} is invalid_client 'Invalid client'`, async () => {
    const server = new FakeAccountsServer();
    const answer = await postToken(server.fetch, {
      grant_type: "client_credentials",
      ...body,
    }, { authorization });
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, error("invalid_client", "Invalid client"));
  });
}

Deno.test("a wrong secret is invalid_client 'Invalid client secret' (Basic and body)", async () => {
  const server = new FakeAccountsServer();
  const viaBasic = await postToken(server.fetch, {
    grant_type: "client_credentials",
  }, { authorization: `Basic ${btoa(`${CLIENT_ID}:wrong`)}` });
  const viaBody = await postToken(server.fetch, {
    grant_type: "client_credentials",
    client_id: CLIENT_ID,
    client_secret: "wrong",
  }, { authorization: null });
  for (const answer of [viaBasic, viaBody]) {
    assert.equal(answer.status, 400);
    assert.deepEqual(
      answer.body,
      error("invalid_client", "Invalid client secret"),
    );
  }
});

Deno.test("a public client cannot use client_credentials", async () => {
  const server = new FakeAccountsServer({ clients: [PUBLIC_CLIENT] });
  const answer = await postToken(server.fetch, {
    grant_type: "client_credentials",
    client_id: "public-client",
  }, { authorization: null });
  assert.deepEqual(answer.body, error("invalid_client", "Invalid client"));
});

Deno.test("a GET on /api/token is 405 and an unknown path is 404", async () => {
  const server = new FakeAccountsServer();
  const get = await server.fetch(TOKEN_URL);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST, OPTIONS");
  await get.body?.cancel();
  const unknown = await server.fetch("https://accounts.spotify.com/api/nope", {
    method: "POST",
  });
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

// --- authorization code --------------------------------------------------

Deno.test("authorization_code returns access_token, token_type, scope, expires_in and refresh_token", async () => {
  const server = new FakeAccountsServer();
  const code = await getCode(server, {
    scope: "user-read-private user-read-email",
  });
  const answer = await exchange(server, code);
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body, {
    access_token: "fake-access-1",
    token_type: "Bearer",
    scope: "user-read-private user-read-email",
    expires_in: 3600,
    refresh_token: "fake-refresh-1",
  });
});

Deno.test("authorization_code without code is invalid_request 'code must be supplied'", async () => {
  const server = new FakeAccountsServer();
  const answer = await postToken(server.fetch, {
    grant_type: "authorization_code",
    redirect_uri: REDIRECT_URI,
  });
  assert.deepEqual(
    answer.body,
    error("invalid_request", "code must be supplied"),
  );
});

Deno.test("an unknown code is invalid_grant 'Invalid authorization code'", async () => {
  const server = new FakeAccountsServer();
  const answer = await exchange(server, "fake-code-42");
  assert.equal(answer.status, 400);
  assert.deepEqual(
    answer.body,
    error("invalid_grant", "Invalid authorization code"),
  );
});

Deno.test("a code is single-use: reuse is 'Invalid authorization code' and revokes what it issued", async () => {
  const server = new FakeAccountsServer();
  const code = await getCode(server);
  const first = await exchange(server, code);
  assert.equal(first.status, 200);
  const second = await exchange(server, code);
  assert.deepEqual(
    second.body,
    error("invalid_grant", "Invalid authorization code"),
  );
  const refresh = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token: first.body.refresh_token,
  });
  assert.deepEqual(
    refresh.body,
    error("invalid_grant", "Refresh token revoked"),
  );
  assert.equal(server.inspectAccessToken(first.body.access_token), undefined);
  assert.equal(
    (await getMe(server.fetch, first.body.access_token)).status,
    401,
  );
});

Deno.test("a code expires after codeTtlSeconds by the injected clock", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock, codeTtlSeconds: 60 });
  const fresh = await getCode(server);
  const stale = await getCode(server);
  clock.tick(59_999);
  assert.equal((await exchange(server, fresh)).status, 200);
  clock.tick(1);
  const answer = await exchange(server, stale);
  assert.deepEqual(
    answer.body,
    error("invalid_grant", "Authorization code expired"),
  );
});

Deno.test("another client's code is 'Invalid authorization code'", async () => {
  const server = new FakeAccountsServer({
    clients: [DEFAULT_CLIENT, OTHER_CLIENT],
  });
  const code = await getCode(server, {
    client_id: "other-client",
    redirect_uri: "http://127.0.0.1/callback",
  });
  const answer = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
    redirect_uri: "http://127.0.0.1/callback",
  });
  assert.deepEqual(
    answer.body,
    error("invalid_grant", "Invalid authorization code"),
  );
});

Deno.test("a redirect_uri other than the authorize one is 'Invalid redirect URI'", async () => {
  const server = new FakeAccountsServer();
  const code = await getCode(server);
  for (
    const redirectUri of [
      "http://127.0.0.1:9999/callback",
      "http://127.0.0.1/callback",
      `${REDIRECT_URI}/`,
    ]
  ) {
    const answer = await exchange(server, code, { redirect_uri: redirectUri });
    assert.deepEqual(
      answer.body,
      error("invalid_grant", "Invalid redirect URI"),
    );
  }
  const missing = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
  });
  assert.deepEqual(
    missing.body,
    error("invalid_grant", "Invalid redirect URI"),
  );
});

Deno.test("a confidential code without client authentication is 'Invalid client'", async () => {
  const server = new FakeAccountsServer();
  const code = await getCode(server);
  const answer = await exchange(server, code, { client_id: CLIENT_ID }, {
    authorization: null,
  });
  assert.deepEqual(answer.body, error("invalid_client", "Invalid client"));
});

Deno.test("a failed exchange leaves the code usable", async () => {
  const server = new FakeAccountsServer();
  const code = await getCode(server);
  await exchange(server, code, { redirect_uri: "http://127.0.0.1:1/x" });
  assert.equal((await exchange(server, code)).status, 200);
});

// --- PKCE ----------------------------------------------------------------

Deno.test("PKCE: a public client exchanges with client_id and code_verifier only", async () => {
  const server = new FakeAccountsServer({ clients: [PUBLIC_CLIENT] });
  const code = await getCode(server, {
    client_id: "public-client",
    redirect_uri: "http://127.0.0.1:5173/callback",
    code_challenge_method: "S256",
    code_challenge: CHALLENGE,
  });
  const answer = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
    redirect_uri: "http://127.0.0.1:5173/callback",
    client_id: "public-client",
    code_verifier: VERIFIER,
  }, { authorization: null });
  assert.equal(answer.status, 200);
  assert.equal(answer.body.refresh_token, "fake-refresh-1");
});

Deno.test("PKCE: a client that has a secret may exchange and refresh without it", async () => {
  const server = new FakeAccountsServer();
  const code = await getCode(server, {
    code_challenge_method: "S256",
    code_challenge: CHALLENGE,
  });
  const exchanged = await exchange(server, code, {
    client_id: CLIENT_ID,
    code_verifier: VERIFIER,
  }, { authorization: null });
  assert.equal(exchanged.status, 200);
  const refreshed = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token: exchanged.body.refresh_token,
    client_id: CLIENT_ID,
  }, { authorization: null });
  assert.equal(refreshed.status, 200);
});

Deno.test("PKCE: a secret-authenticated exchange still needs the verifier", async () => {
  const server = new FakeAccountsServer();
  const code = await getCode(server, {
    code_challenge_method: "S256",
    code_challenge: CHALLENGE,
  });
  const answer = await exchange(server, code);
  assert.deepEqual(
    answer.body,
    error("invalid_grant", "code_verifier was incorrect"),
  );
  assert.equal(
    (await exchange(server, code, { code_verifier: VERIFIER })).status,
    200,
  );
});

for (
  const [name, verifier] of [
    ["missing", undefined],
    ["wrong", "A".repeat(43)],
    ["too short", VERIFIER.slice(0, 42)],
    ["too long", "a".repeat(129)],
    ["with forbidden characters", `${VERIFIER.slice(0, 42)}+`],
  ] as const
) {
  Deno.test(`PKCE: a ${name} code_verifier is invalid_grant 'code_verifier was incorrect'`, async () => {
    const server = new FakeAccountsServer({ clients: [PUBLIC_CLIENT] });
    const code = await getCode(server, {
      client_id: "public-client",
      redirect_uri: "http://127.0.0.1/callback",
      code_challenge_method: "S256",
      code_challenge: CHALLENGE,
    });
    const params: Record<string, string> = {
      grant_type: "authorization_code",
      code,
      redirect_uri: "http://127.0.0.1/callback",
      client_id: "public-client",
    };
    if (verifier !== undefined) params.code_verifier = verifier;
    const answer = await postToken(server.fetch, params, {
      authorization: null,
    });
    assert.equal(answer.status, 400);
    assert.deepEqual(
      answer.body,
      error("invalid_grant", "code_verifier was incorrect"),
    );
  });
}

// --- refresh -------------------------------------------------------------

async function userTokens(
  server: FakeAccountsServer,
  params: Record<string, string> = {},
) {
  return (await exchange(server, await getCode(server, params))).body;
}

Deno.test("refresh without rotation returns no refresh_token and the old one keeps working", async () => {
  const server = new FakeAccountsServer();
  const { refresh_token } = await userTokens(server, {
    scope: "user-top-read",
  });
  for (const expected of ["fake-access-2", "fake-access-3"]) {
    const answer = await postToken(server.fetch, {
      grant_type: "refresh_token",
      refresh_token,
    });
    assert.deepEqual(answer.body, {
      access_token: expected,
      token_type: "Bearer",
      scope: "user-top-read",
      expires_in: 3600,
    });
  }
});

Deno.test("refresh with rotation 'always' returns a new refresh token and invalidates the old one", async () => {
  const server = new FakeAccountsServer({ refreshTokenRotation: "always" });
  const { refresh_token } = await userTokens(server);
  const rotated = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token,
  });
  assert.equal(rotated.body.refresh_token, "fake-refresh-2");
  const reused = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token,
  });
  assert.deepEqual(
    reused.body,
    error("invalid_grant", "Invalid refresh token"),
  );
});

Deno.test("refresh tokens issued through PKCE always rotate, whatever the option says", async () => {
  const server = new FakeAccountsServer({
    clients: [PUBLIC_CLIENT],
    refreshTokenRotation: "never",
  });
  const code = await getCode(server, {
    client_id: "public-client",
    redirect_uri: "http://127.0.0.1/callback",
    code_challenge_method: "S256",
    code_challenge: CHALLENGE,
  });
  const tokens = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
    redirect_uri: "http://127.0.0.1/callback",
    client_id: "public-client",
    code_verifier: VERIFIER,
  }, { authorization: null });
  let refreshToken = tokens.body.refresh_token;
  for (const expected of ["fake-refresh-2", "fake-refresh-3"]) {
    const answer = await postToken(server.fetch, {
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: "public-client",
    }, { authorization: null });
    assert.equal(answer.body.refresh_token, expected);
    const old = await postToken(server.fetch, {
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: "public-client",
    }, { authorization: null });
    assert.deepEqual(old.body, error("invalid_grant", "Invalid refresh token"));
    refreshToken = answer.body.refresh_token;
  }
});

Deno.test("a revoked refresh token is invalid_grant 'Refresh token revoked'", async () => {
  const server = new FakeAccountsServer();
  const { refresh_token } = await userTokens(server);
  assert.equal(server.revokeRefreshToken(refresh_token), true);
  assert.equal(server.revokeRefreshToken(refresh_token), false);
  assert.equal(server.revokeRefreshToken("fake-refresh-99"), false);
  const answer = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token,
  });
  assert.deepEqual(
    answer.body,
    error("invalid_grant", "Refresh token revoked"),
  );
});

Deno.test("an unknown or another client's refresh token is 'Invalid refresh token'", async () => {
  const server = new FakeAccountsServer({
    clients: [DEFAULT_CLIENT, OTHER_CLIENT],
  });
  const { refreshToken } = server.issueTokens({ clientId: "other-client" });
  for (const token of ["nope", refreshToken!]) {
    const answer = await postToken(server.fetch, {
      grant_type: "refresh_token",
      refresh_token: token,
    });
    assert.deepEqual(
      answer.body,
      error("invalid_grant", "Invalid refresh token"),
    );
  }
});

Deno.test("refresh without refresh_token is invalid_request 'refresh_token must be supplied'", async () => {
  const server = new FakeAccountsServer();
  const answer = await postToken(server.fetch, { grant_type: "refresh_token" });
  assert.deepEqual(
    answer.body,
    error("invalid_request", "refresh_token must be supplied"),
  );
});

Deno.test("a confidential refresh without client authentication is 'Invalid client'", async () => {
  const server = new FakeAccountsServer();
  const { refresh_token } = await userTokens(server);
  const answer = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token,
    client_id: CLIENT_ID,
  }, { authorization: null });
  assert.deepEqual(answer.body, error("invalid_client", "Invalid client"));
});

// --- issueTokens, inspectAccessToken, reset ------------------------------

Deno.test("issueTokens() defaults to the first client and user, with a refresh token, scope '' and a sign-in now", () => {
  const clock = new FakeClock(1_000_000);
  const server = new FakeAccountsServer({ clock });
  const token = server.issueTokens();
  assert.deepEqual(token, {
    accessToken: "fake-access-1",
    expiresAt: 1_000 + 3600,
    refreshToken: "fake-refresh-1",
    scope: "",
    authorizedAt: 1_000,
  });
  assert.deepEqual(server.inspectAccessToken(token.accessToken), {
    clientId: CLIENT_ID,
    userId: "test-user",
    scope: "",
    expiresAt: 4_600,
  });
});

Deno.test("issueTokens({ userId: null }) issues an app token without refresh token", () => {
  const server = new FakeAccountsServer();
  const token = server.issueTokens({ userId: null });
  assert.equal(token.refreshToken, undefined);
  assert.deepEqual(server.inspectAccessToken(token.accessToken), {
    clientId: CLIENT_ID,
    scope: "",
    expiresAt: token.expiresAt,
  });
});

Deno.test("issueTokens() rejects unknown clients, users and scopes with TypeError", () => {
  const server = new FakeAccountsServer();
  assert.throws(() => server.issueTokens({ clientId: "nope" }), TypeError);
  assert.throws(() => server.issueTokens({ userId: "nope" }), TypeError);
  assert.throws(() => server.issueTokens({ scope: "nope" }), TypeError);
});

Deno.test("issued tokens work at /v1/me and refresh like flow tokens", async () => {
  const server = new FakeAccountsServer();
  const token = server.issueTokens({ scope: ["user-read-private"] });
  assert.equal((await getMe(server.fetch, token.accessToken)).status, 200);
  const answer = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token: token.refreshToken!,
  });
  assert.equal(answer.body.scope, "user-read-private");
});

Deno.test("inspectAccessToken() is undefined for unknown tokens", () => {
  const server = new FakeAccountsServer();
  assert.equal(server.inspectAccessToken("fake-access-1"), undefined);
});

Deno.test("reset() forgets tokens, codes, faults, requests and counters", async () => {
  const server = new FakeAccountsServer();
  const old = server.issueTokens();
  const code = await getCode(server);
  server.failNext({ status: 503 }, { times: Infinity });
  await postToken(server.fetch, { grant_type: "client_credentials" });
  server.reset();
  assert.equal(server.tokenRequestCount, 0);
  assert.deepEqual(server.requests, []);
  assert.equal(server.inspectAccessToken(old.accessToken), undefined);
  assert.equal((await exchange(server, code)).status, 400);
  const fresh = await postToken(server.fetch, {
    grant_type: "client_credentials",
  });
  assert.equal(fresh.status, 200);
  assert.equal(fresh.body.access_token, "fake-access-1");
});

Deno.test("reset() while a request is held: its late outcome never lands on a newer request's record", async () => {
  const server = new FakeAccountsServer();
  // A token request held in flight across reset() by a short delay fault.
  server.failNext({ delayMs: 10 });
  const late = postToken(server.fetch, { grant_type: "client_credentials" });
  server.reset();
  server.failNext({ status: 503 }, { endpoint: "me" });
  const me = await server.fetch("https://api.spotify.com/v1/me");
  await me.body?.cancel();
  assert.equal(me.status, 503);
  assert.equal((await late).status, 200);
  assert.deepEqual(
    server.requests.map((r) => [r.endpoint, r.status, r.grantType]),
    [["me", 503, undefined]],
  );
});

// --- observation ---------------------------------------------------------

Deno.test("requests records endpoint, grantType, clientId, status and clock time, in order", async () => {
  const clock = new FakeClock(5_000);
  const server = new FakeAccountsServer({ clock });
  await postToken(server.fetch, { grant_type: "client_credentials" });
  clock.tick(10);
  const code = await getCode(server);
  clock.tick(10);
  const tokens = await exchange(server, code, {}, {
    authorization: `Basic ${btoa(`${CLIENT_ID}:wrong`)}`,
  });
  await getMe(server.fetch, undefined);
  assert.equal(tokens.status, 400);
  assert.deepEqual(server.requests, [
    {
      endpoint: "token",
      grantType: "client_credentials",
      clientId: CLIENT_ID,
      status: 200,
      at: 5_000,
    },
    { endpoint: "authorize", clientId: CLIENT_ID, status: 302, at: 5_010 },
    {
      endpoint: "token",
      grantType: "authorization_code",
      clientId: CLIENT_ID,
      status: 400,
      at: 5_020,
    },
    { endpoint: "me", status: 401, at: 5_020 },
  ]);
});

Deno.test("requests never contain secrets, codes, verifiers or tokens", async () => {
  const server = new FakeAccountsServer({
    clients: [DEFAULT_CLIENT, { ...PUBLIC_CLIENT }],
    refreshTokenRotation: "always",
  });
  const secrets = new Set<string>([CLIENT_SECRET, VERIFIER, CHALLENGE]);
  const remember = (value: unknown) => {
    if (typeof value === "string") secrets.add(value);
  };
  const app = await postToken(server.fetch, {
    grant_type: "client_credentials",
  });
  remember(app.body.access_token);
  const code = await getCode(server, { state: "state-secret" });
  remember(code);
  const tokens = await exchange(server, code);
  remember(tokens.body.access_token);
  remember(tokens.body.refresh_token);
  await exchange(server, code); // reuse
  const pkceCode = await getCode(server, {
    client_id: "public-client",
    redirect_uri: "http://127.0.0.1/callback",
    code_challenge_method: "S256",
    code_challenge: CHALLENGE,
  });
  remember(pkceCode);
  const pkce = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code: pkceCode,
    redirect_uri: "http://127.0.0.1/callback",
    client_id: "public-client",
    code_verifier: VERIFIER,
  }, { authorization: null });
  remember(pkce.body.access_token);
  remember(pkce.body.refresh_token);
  const refreshed = await postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token: pkce.body.refresh_token,
    client_id: "public-client",
  }, { authorization: null });
  remember(refreshed.body.refresh_token);
  await getMe(server.fetch, pkce.body.access_token);
  await postToken(server.fetch, { grant_type: "client_credentials" }, {
    authorization: `Basic ${btoa(`${CLIENT_ID}:wrong-secret`)}`,
  });
  secrets.add("wrong-secret");
  const log = JSON.stringify(server.requests);
  assert.equal(server.requests.length, 9);
  for (const secret of secrets) {
    assert.ok(!log.includes(secret), `the log contains ${secret}`);
  }
  assert.ok(!log.includes("state-secret"));
});

Deno.test("tokenRequestCount counts every request reaching /api/token, faulted and rejected ones too", async () => {
  const server = new FakeAccountsServer();
  server.failNext({ status: 503 });
  server.failNext("network");
  await postToken(server.fetch, { grant_type: "client_credentials" });
  await assert.rejects(
    postToken(server.fetch, { grant_type: "client_credentials" }),
    TypeError,
  );
  await postToken(server.fetch, { grant_type: "nope" });
  await (await server.fetch(TOKEN_URL)).body?.cancel();
  await getMe(server.fetch, undefined);
  assert.equal(server.tokenRequestCount, 4);
  assert.deepEqual(server.requests.map((record) => record.status), [
    503,
    0,
    400,
    405,
    401,
  ]);
});

// --- construction --------------------------------------------------------

Deno.test("the constructor rejects bad options with TypeError or RangeError", () => {
  assert.throws(() => new FakeAccountsServer({ clients: [] }), TypeError);
  assert.throws(() => new FakeAccountsServer({ users: [] }), TypeError);
  assert.throws(
    () =>
      new FakeAccountsServer({
        clients: [{ clientId: "a" }, { clientId: "a" }],
      }),
    TypeError,
  );
  assert.throws(
    () => new FakeAccountsServer({ accessTokenTtlSeconds: 0 }),
    RangeError,
  );
  assert.throws(
    () => new FakeAccountsServer({ codeTtlSeconds: NaN }),
    RangeError,
  );
  assert.throws(
    () =>
      new FakeAccountsServer({
        // @ts-expect-error: not a rotation mode
        refreshTokenRotation: "sometimes",
      }),
    TypeError,
  );
  // @ts-expect-error: not a consent
  assert.throws(() => new FakeAccountsServer({ consent: "maybe" }), TypeError);
});

Deno.test("server.fetch rejects with the signal's reason when already aborted", async () => {
  const server = new FakeAccountsServer();
  const reason = new Error("stop");
  await assert.rejects(
    server.fetch(TOKEN_URL, {
      method: "POST",
      signal: AbortSignal.abort(reason),
    }),
    (error) => error === reason,
  );
});

Deno.test("server.handler answers Request objects like server.fetch", async () => {
  const server = new FakeAccountsServer();
  const response = await server.handler(
    new Request(TOKEN_URL, {
      method: "POST",
      headers: { authorization: BASIC },
      body: new URLSearchParams({ grant_type: "client_credentials" }),
    }),
  );
  assert.equal(response.status, 200);
  assert.equal((await response.json()).access_token, "fake-access-1");
});

Deno.test("server.fetch accepts Request objects and Blob bodies", async () => {
  const server = new FakeAccountsServer();
  const viaRequest = await server.fetch(
    new Request(TOKEN_URL, {
      method: "POST",
      headers: { authorization: BASIC },
      body: new URLSearchParams({ grant_type: "client_credentials" }),
    }),
  );
  assert.equal(viaRequest.status, 200);
  await viaRequest.body?.cancel();
  const viaBlob = await server.fetch(new URL(TOKEN_URL), {
    method: "POST",
    headers: new Headers({
      authorization: BASIC,
      "content-type": "application/x-www-form-urlencoded",
    }),
    body: new Blob(["grant_type=client_credentials"]),
  });
  assert.equal(viaBlob.status, 200);
  await viaBlob.body?.cancel();
});

Deno.test("server.fetch can be passed wherever a fetch function is expected", async () => {
  const server = new FakeAccountsServer();
  const fetcher: typeof fetch = server.fetch;
  const response = await fetcher(TOKEN_URL, { method: "POST" });
  assert.equal(response.status, 400);
  await response.body?.cancel();
});
