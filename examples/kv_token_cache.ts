// A fleet sharing one token through Deno KV: several workers, one refresh per
// expiry, even with refresh tokens that rotate on every use. Offline:
//
//   deno run --unstable-kv --allow-net=127.0.0.1 --allow-read --allow-write examples/kv_token_cache.ts
//
// In production, open a shared KV instead (a local file shared by processes,
// or a remote KV / Deno Deploy): `await Deno.openKv(url)`.

import { AuthorizationCode, KvTokenCache } from "@spotify-sdk/auth";
import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";

const clock = new FakeClock();
await using server = new FakeAccountsServer({
  clock,
  refreshTokenRotation: "always",
});
await server.listen();

const dir = await Deno.makeTempDir({ prefix: "spotify-kv-" });
try {
  // A user's tokens, as a login would have stored them.
  const seedKv = await Deno.openKv(`${dir}/tokens.sqlite`);
  await new KvTokenCache({ kv: seedKv, key: ["spotify", "user-1"] }).set(
    server.issueTokens({ scope: "user-read-private" }),
  );
  seedKv.close();

  // Four workers, each with its own connection, as separate processes would.
  const connections = await Promise.all(
    Array.from({ length: 4 }, () => Deno.openKv(`${dir}/tokens.sqlite`)),
  );
  const workers = connections.map((kv) =>
    new AuthorizationCode({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1/callback",
      accountsUrl: server.url,
      clock,
      tokenCache: new KvTokenCache({ kv, key: ["spotify", "user-1"] }),
    })
  );

  for (let hour = 1; hour <= 3; hour++) {
    clock.tick(3_600_000); // the shared token expires
    const before = server.tokenRequestCount;
    const tokens = await Promise.all(workers.map((w) => w.getAccessToken()));
    console.log(
      `hour ${hour}: ${workers.length} workers, ${
        new Set(tokens).size
      } token, ` +
        `${server.tokenRequestCount - before} refresh`,
    );
  }
  const failed = server.requests.filter((r) => r.status !== 200).length;
  console.log(`failed token requests: ${failed}`);
  await Promise.all(workers.map((w) => w.close()));
  for (const kv of connections) kv.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
