import assert from "node:assert/strict";
import { ClientCredentials, SpotifyAuthError } from "../mod.ts";
import { FakeAccountsServer } from "../testing/mod.ts";

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
