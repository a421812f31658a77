// RedisTokenCache on a real redis-server on loopback (started here, stopped
// on unload), through node-redis and ioredis. Lock-acquire percentiles:
// bench/redis_lock_latency.ts.
import { AuthorizationCode } from "./authorization_code.ts";
import { RedisTokenCache } from "./redis_token_cache.ts";
import { InMemoryTokenCache, type TokenCache } from "./token.ts";
import { FakeAccountsServer } from "../testing/fake_accounts_server.ts";
import { RedisServer } from "../tests/_redis_server.ts";
import {
  CLIENT_KINDS,
  connectRedis,
  type TestRedisClient,
} from "../tests/_redis_clients.ts";

const redis = await RedisServer.start();
const clients: TestRedisClient[] = [];
for (const kind of CLIENT_KINDS) {
  clients.push(await connectRedis(kind, redis.port));
}
const accounts = new FakeAccountsServer();
const providers: AuthorizationCode[] = [];

globalThis.addEventListener("unload", () => {
  for (const client of clients) client.close();
  // Synchronous on unload: the server must not outlive the bench.
  redis.stop();
});

/** A user provider over `tokenCache`, its token already fetched. */
async function warmProvider(
  tokenCache: TokenCache,
): Promise<AuthorizationCode> {
  await tokenCache.set(accounts.issueTokens({ scope: "user-read-private" }));
  const auth = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: "http://127.0.0.1/callback",
    fetch: accounts.fetch,
    tokenCache,
  });
  await auth.getAccessToken();
  providers.push(auth);
  return auth;
}

const inMemory = await warmProvider(new InMemoryTokenCache());
const overRedis = await Promise.all(
  clients.map((client, i) =>
    warmProvider(
      new RedisTokenCache({ redis: client.redis, key: `bench:token:${i}` }),
    )
  ),
);
const caches = clients.map((client, i) =>
  new RedisTokenCache({ redis: client.redis, key: `bench:token:${i}` })
);

Deno.bench("getAccessToken() cached, InMemoryTokenCache", {
  group: "cached",
  baseline: true,
}, async () => {
  await inMemory.getAccessToken();
});

for (const [i, client] of clients.entries()) {
  Deno.bench(`getAccessToken() cached, RedisTokenCache (${client.kind})`, {
    group: "cached",
  }, async () => {
    await overRedis[i].getAccessToken();
  });
}

Deno.bench("refresh (forceRefresh), InMemoryTokenCache", {
  group: "refresh",
  baseline: true,
}, async () => {
  await inMemory.getAccessToken({ forceRefresh: true });
});

for (const [i, client] of clients.entries()) {
  Deno.bench(
    `refresh (forceRefresh), RedisTokenCache (${client.kind}): lock, GET, SET, release`,
    { group: "refresh" },
    async () => {
      await overRedis[i].getAccessToken({ forceRefresh: true });
    },
  );
}

for (const [i, client] of clients.entries()) {
  Deno.bench(`PING round trip (${client.kind})`, {
    group: `redis ${client.kind}`,
    baseline: true,
  }, async () => {
    await client.redis.sendCommand(["PING"]);
  });
  Deno.bench(`RedisTokenCache.get() (${client.kind})`, {
    group: `redis ${client.kind}`,
  }, async () => {
    await caches[i].get();
  });
  Deno.bench(
    `RedisTokenCache.lock() uncontended: SET NX + release script (${client.kind})`,
    { group: `redis ${client.kind}` },
    async () => {
      await caches[i].lock(() => Promise.resolve());
    },
  );
}
