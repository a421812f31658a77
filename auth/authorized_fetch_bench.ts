// What createAuthorizedFetch() adds to a Web API call with a cached token,
// against the same call with the header set by hand. Goal: at most 1.2×.
//   deno bench auth/authorized_fetch_bench.ts
import { AuthorizationCode, createAuthorizedFetch } from "../mod.ts";
import { FakeAccountsServer } from "../testing/mod.ts";

const ME = "https://api.spotify.com/v1/me";
// Calls take microseconds: many of them, after a warm-up, so that one
// garbage collection does not decide the ratio.
const RUNS = { warmup: 20_000, n: 200_000 };

const server = new FakeAccountsServer();
const { refreshToken } = server.issueTokens({ scope: "user-read-private" });
const auth = new AuthorizationCode({
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: "http://127.0.0.1:8080/callback",
  refreshToken,
  fetch: server.fetch,
});
const token = await auth.getAccessToken();
const authorizedFetch = createAuthorizedFetch(auth, { fetch: server.fetch });

function check(response: Response): Promise<ArrayBuffer> {
  if (response.status !== 200) {
    throw new Error(`expected 200 from /v1/me, got ${response.status}`);
  }
  return response.arrayBuffer();
}

Deno.bench("server.fetch with the header set by hand (baseline)", {
  group: "GET /v1/me",
  baseline: true,
  ...RUNS,
}, async () => {
  await check(
    await server.fetch(ME, { headers: { authorization: `Bearer ${token}` } }),
  );
});

Deno.bench("createAuthorizedFetch over server.fetch, cached token", {
  group: "GET /v1/me",
  ...RUNS,
}, async () => {
  await check(await authorizedFetch(ME));
});

// A body on top: the fake answers a POST to /v1/me with 405 at once, so
// this measures the wrapper's handling of the body, nothing else.
Deno.bench("createAuthorizedFetch over server.fetch, POST with a body", {
  group: "POST with a body",
  ...RUNS,
}, async () => {
  const response = await authorizedFetch(ME, {
    method: "POST",
    body: '{"name":"Road trip"}',
  });
  await response.arrayBuffer();
});

Deno.bench("server.fetch, POST with a body and the header by hand (baseline)", {
  group: "POST with a body",
  baseline: true,
  ...RUNS,
}, async () => {
  const response = await server.fetch(ME, {
    method: "POST",
    body: '{"name":"Road trip"}',
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
});
