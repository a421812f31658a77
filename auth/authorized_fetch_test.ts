import assert from "node:assert/strict";
import { ClientCredentials, createAuthorizedFetch } from "../mod.ts";
import { FakeAccountsServer, FakeAuthProvider } from "../testing/mod.ts";

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

Deno.test("createAuthorizedFetch() returns the 401 when the provider cannot refresh", async () => {
  let calls = 0;
  const authorizedFetch = createAuthorizedFetch(new FakeAuthProvider("same"), {
    fetch: () => {
      calls++;
      return Promise.resolve(new Response(null, { status: 401 }));
    },
  });
  assert.equal(
    (await authorizedFetch("https://api.spotify.com/v1/me")).status,
    401,
  );
  assert.equal(calls, 1);
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
