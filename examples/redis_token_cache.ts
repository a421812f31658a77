// A fleet on several machines sharing one token through Redis: one refresh
// per expiry, even with refresh tokens that rotate on every use. Start a
// Redis, then (offline: the accounts service is the bundled fake):
//
//   redis-server --port 6379 --save "" &
//   deno run --allow-net=127.0.0.1 --allow-env examples/redis_token_cache.ts redis://127.0.0.1:6379
//
// In production each worker runs on its own machine with its own client;
// fail-fast settings make an outage an error at once instead of a queue.

// Bring your own client: the module itself has no dependencies. (--allow-env:
// ioredis reads DEBUG settings from the environment.)
// deno-lint-ignore no-import-prefix
import { createClient } from "npm:redis@6.3.1";
// deno-lint-ignore no-import-prefix
import { Redis } from "npm:ioredis@6.0.0";
import {
  AuthorizationCode,
  type RedisLike,
  RedisTokenCache,
} from "@spotify-sdk/auth";
import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";

const url = new URL(Deno.args[0] ?? "redis://127.0.0.1:6379");
const KEY = "my-app:spotify-token:user-1";

// node-redis: the client itself is a RedisLike.
async function nodeRedis() {
  const client = createClient({ url: url.href, disableOfflineQueue: true });
  client.on("error", (error) => console.error("node-redis:", error.message));
  await client.connect();
  return { redis: client as RedisLike, close: () => client.destroy() };
}

// ioredis: a one-line wrapper.
async function ioredis() {
  const client = new Redis(url.href, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  client.on("error", (error) => console.error("ioredis:", error.message));
  await client.connect();
  const redis: RedisLike = {
    sendCommand: (args) => client.call(args[0], ...args.slice(1)),
  };
  return { redis, close: () => client.disconnect() };
}

const clock = new FakeClock();
await using server = new FakeAccountsServer({
  clock,
  refreshTokenRotation: "always",
});
await server.listen();

// Four workers, as four machines would be: each its own connection.
const connections = await Promise.all([
  nodeRedis(),
  ioredis(),
  nodeRedis(),
  ioredis(),
]);
try {
  // A user's tokens, as a login would have stored them.
  await new RedisTokenCache({ redis: connections[0].redis, key: KEY }).set(
    server.issueTokens({ scope: "user-read-private" }),
  );
  const workers = connections.map(({ redis }) =>
    new AuthorizationCode({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1/callback",
      accountsUrl: server.url,
      clock,
      tokenCache: new RedisTokenCache({ redis, key: KEY }),
    })
  );

  for (let hour = 1; hour <= 3; hour++) {
    clock.tick(3_600_000); // the shared token expires
    const before = server.tokenRequestCount;
    const tokens = await Promise.all(workers.map((w) => w.getAccessToken()));
    console.log(
      `hour ${hour}: ${workers.length} workers, ${
        new Set(tokens).size
      } token, ${server.tokenRequestCount - before} refresh`,
    );
  }
  const failed = server.requests.filter((r) => r.status !== 200).length;
  console.log(`failed token requests: ${failed}`);
  await Promise.all(workers.map((w) => w.close()));
} finally {
  for (const connection of connections) connection.close();
}
