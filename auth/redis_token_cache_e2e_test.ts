// RedisTokenCache against a real redis-server, through both clients users
// bring: node-redis (npm:redis, RESP3) and ioredis (npm:ioredis, RESP2).
// Every test starts its own server on a free loopback port and stops it.
import assert from "node:assert/strict";
import { AuthorizationCode } from "./authorization_code.ts";
import { SpotifyAuthError } from "./errors.ts";
import { type RedisLike, RedisTokenCache } from "./redis_token_cache.ts";
import type { TokenInfo } from "./token.ts";
import { FakeAccountsServer, FakeClock } from "../testing/mod.ts";
import { RedisServer } from "../tests/_redis_server.ts";
import {
  CLIENT_KINDS,
  connectRedis,
  type RedisClientKind,
  type TestRedisClient,
} from "../tests/_redis_clients.ts";

const KEY = "test-app:spotify-token";
const LOCK_KEY = `${KEY}:lock`;

const USER_TOKEN: TokenInfo = {
  accessToken: "access-secret-123",
  expiresAt: 1_700_000_000.5,
  refreshToken: "refresh-secret-456",
  scope: "user-read-private",
  authorizedAt: 1_690_000_000.25,
};

/** A server and `count` connections to it, all closed at the end. */
async function redisWith(
  kind: RedisClientKind,
  count = 1,
): Promise<
  { server: RedisServer; clients: TestRedisClient[] } & AsyncDisposable
> {
  const server = await RedisServer.start();
  const clients: TestRedisClient[] = [];
  try {
    for (let i = 0; i < count; i++) {
      clients.push(await connectRedis(kind, server.port));
    }
  } catch (error) {
    await Promise.all(clients.map((client) => client.close()));
    await server.stop();
    throw error;
  }
  return {
    server,
    clients,
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((client) => client.close()));
      await server.stop();
    },
  };
}

/** Sends a raw command, to set up or inspect what the cache sees. */
function raw(client: TestRedisClient, ...args: string[]): Promise<unknown> {
  return client.redis.sendCommand(args);
}

/** Runs `fn` under `cache.lock()` and records how many were inside at once. */
function exclusiveSection(
  cache: RedisTokenCache,
  state: { active: number; max: number; entered: number },
): Promise<void> {
  return cache.lock(async () => {
    state.active++;
    state.entered++;
    state.max = Math.max(state.max, state.active);
    // Yield a few times so that an overlapping holder would show.
    for (let i = 0; i < 3; i++) await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 1));
    state.active--;
  });
}

function isRenewal(args: string[]): boolean {
  return args[0] === "EVAL" && args[1].includes("PEXPIRE");
}

/** Wraps a client and calls `onCommand` before each command is sent. */
function watched(
  redis: RedisLike,
  onCommand: (args: string[]) => void | Promise<void>,
): RedisLike {
  return {
    async sendCommand(args) {
      await onCommand(args);
      return redis.sendCommand(args);
    },
  };
}

for (const kind of CLIENT_KINDS) {
  Deno.test(`RedisTokenCache over ${kind}: get() reads back what set() stored, as the file format's JSON`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const cache = new RedisTokenCache({ redis: client.redis, key: KEY });
    assert.equal(await cache.get(), undefined);
    await cache.set(USER_TOKEN);
    assert.deepEqual(await cache.get(), USER_TOKEN);
    assert.deepEqual(JSON.parse(String(await raw(client, "GET", KEY))), {
      access_token: "access-secret-123",
      expires_at: 1_700_000_000.5,
      refresh_token: "refresh-secret-456",
      scope: "user-read-private",
      authorized_at: 1_690_000_000.25,
    });
    await cache.set({ accessToken: "app", expiresAt: 1 });
    assert.deepEqual(JSON.parse(String(await raw(client, "GET", KEY))), {
      access_token: "app",
      expires_at: 1,
      refresh_token: null,
      scope: null,
      authorized_at: null,
    });
    assert.deepEqual(await raw(client, "KEYS", "*"), [KEY]);
  });

  Deno.test(`RedisTokenCache over ${kind}: get() reads corrupt values and other Redis types as no token`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const cache = new RedisTokenCache({ redis: client.redis, key: KEY });
    for (
      const value of [
        "",
        "{",
        "null",
        "[]",
        '"a string"',
        '{"access_token":"","expires_at":1}',
        '{"access_token":"a","expires_at":"soon"}',
        '{"expires_at":1}',
      ]
    ) {
      await raw(client, "SET", KEY, value);
      assert.equal(await cache.get(), undefined, value);
    }
    await raw(client, "DEL", KEY);
    await raw(client, "LPUSH", KEY, "not a token");
    assert.equal(await cache.get(), undefined, "a list");
    await raw(client, "DEL", KEY);
    await raw(client, "HSET", KEY, "access_token", "a", "expires_at", "1");
    assert.equal(await cache.get(), undefined, "a hash");
    await cache.set(USER_TOKEN);
    assert.deepEqual(await cache.get(), USER_TOKEN, "set() replaces any type");
  });

  Deno.test(`RedisTokenCache over ${kind}: get() reads a Python SDK record and drops wrongly typed optional fields`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const cache = new RedisTokenCache({ redis: client.redis, key: KEY });
    await raw(
      client,
      "SET",
      KEY,
      '{"access_token":"a","expires_at":2e9,"refresh_token":null,"scope":null}',
    );
    assert.deepEqual(await cache.get(), { accessToken: "a", expiresAt: 2e9 });
    await raw(
      client,
      "SET",
      KEY,
      '{"access_token":"a","expires_at":2e9,"refresh_token":7,"authorized_at":"yesterday"}',
    );
    assert.deepEqual(await cache.get(), { accessToken: "a", expiresAt: 2e9 });
  });

  Deno.test(`RedisTokenCache over ${kind}: delete() removes the token, and a missing one is fine`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const cache = new RedisTokenCache({ redis: client.redis, key: KEY });
    await cache.delete();
    await cache.set(USER_TOKEN);
    await cache.delete();
    assert.equal(await cache.get(), undefined);
    assert.equal(await raw(client, "EXISTS", KEY), 0);
  });

  Deno.test(`RedisTokenCache over ${kind}: lock() admits one holder at a time across connections`, async () => {
    await using redis = await redisWith(kind, 3);
    const caches = redis.clients.map((client) =>
      new RedisTokenCache({ redis: client.redis, key: KEY })
    );
    const state = { active: 0, max: 0, entered: 0 };
    await Promise.all(
      Array.from(
        { length: 24 },
        (_, i) => exclusiveSection(caches[i % caches.length], state),
      ),
    );
    assert.equal(state.entered, 24);
    assert.equal(state.max, 1);
    assert.equal(await raw(redis.clients[0], "EXISTS", LOCK_KEY), 0);
  });

  Deno.test(`RedisTokenCache over ${kind}: lock() takes the lock once a dead holder's lease expires`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    // A holder that died right after taking the lock with a 150 ms lease.
    assert.equal(
      await raw(client, "SET", LOCK_KEY, "dead-holder", "NX", "PX", "150"),
      "OK",
    );
    const cache = new RedisTokenCache({ redis: client.redis, key: KEY });
    const owner = await cache.lock(async () =>
      String(await raw(client, "GET", LOCK_KEY))
    );
    assert.match(owner, /^[0-9a-f]{32,}$/, "ours: at least 16 random bytes");
    assert.equal(await raw(client, "EXISTS", LOCK_KEY), 0, "released");
  });

  Deno.test(`RedisTokenCache over ${kind}: lock() renews its lease while fn outlasts it`, async () => {
    await using redis = await redisWith(kind, 2);
    const [first, second] = redis.clients;
    let renewals = 0;
    let renewedOften = () => {};
    const outlasted = new Promise<void>((resolve) => (renewedOften = resolve));
    const holder = new RedisTokenCache({
      redis: watched(first.redis, (args) => {
        // Renewals come every 100 ms: the fourth is over one lease in.
        if (isRenewal(args) && ++renewals === 4) renewedOften();
      }),
      key: KEY,
      leaseMs: 300,
    });
    const other = new RedisTokenCache({
      redis: second.redis,
      key: KEY,
      lockTimeoutMs: 50,
    });
    await holder.lock(async () => {
      await outlasted; // more than one lease length later
      const ttl = Number(await raw(first, "PTTL", LOCK_KEY));
      assert.ok(ttl > 0 && ttl <= 300, `lease renewed, ${ttl} ms left`);
      await assert.rejects(
        other.lock(() => Promise.resolve()),
        (error) =>
          error instanceof SpotifyAuthError && error.code === "timeout",
      );
    });
    assert.equal(await raw(first, "EXISTS", LOCK_KEY), 0, "released");
  });

  Deno.test(`RedisTokenCache over ${kind}: lock() never renews or releases a lock another owner holds`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    let renewals = 0;
    let onRenewal = () => {};
    const cache = new RedisTokenCache({
      redis: watched(client.redis, (args) => {
        if (isRenewal(args)) {
          renewals++;
          onRenewal();
        }
      }),
      key: KEY,
      leaseMs: 30,
    });
    await cache.lock(async () => {
      // Our lease lapsed (as if we froze) and another process took it.
      await raw(client, "SET", LOCK_KEY, "someone-else");
      // Renewals run one after another: once the second after the takeover
      // starts, the first has tried and failed.
      const target = renewals + 2;
      while (renewals < target) {
        await new Promise<void>((resolve) => (onRenewal = resolve));
      }
    });
    assert.equal(await raw(client, "GET", LOCK_KEY), "someone-else");
    assert.equal(await raw(client, "PTTL", LOCK_KEY), -1, "not renewed");
  });

  Deno.test(`RedisTokenCache over ${kind}: lock() times out naming <key>:lock and the time waited`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    await raw(client, "SET", LOCK_KEY, "live-holder", "PX", "60000");
    const cache = new RedisTokenCache({
      redis: client.redis,
      key: KEY,
      lockTimeoutMs: 120,
    });
    let ran = false;
    await assert.rejects(
      cache.lock(() => {
        ran = true;
        return Promise.resolve();
      }),
      (error: unknown) => {
        assert.ok(error instanceof SpotifyAuthError);
        assert.equal(error.code, "timeout");
        assert.ok(error.message.includes(`"${LOCK_KEY}"`), error.message);
        const waited = Number(/after (\d+) ms/.exec(error.message)?.[1]);
        assert.ok(waited >= 120, error.message);
        return true;
      },
    );
    assert.equal(ran, false);
    assert.equal(await raw(client, "GET", LOCK_KEY), "live-holder");
  });

  Deno.test(`RedisTokenCache over ${kind}: lock() stops waiting when its signal aborts`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    await raw(client, "SET", LOCK_KEY, "live-holder", "PX", "60000");
    const controller = new AbortController();
    const reason = new Error("provider closed");
    let attempts = 0;
    const cache = new RedisTokenCache({
      redis: watched(client.redis, (args) => {
        // Abort during the wait that follows the second attempt.
        if (args[0] === "SET" && ++attempts === 2) {
          queueMicrotask(() => controller.abort(reason));
        }
      }),
      key: KEY,
      lockTimeoutMs: 60_000,
    });
    let ran = false;
    await assert.rejects(
      cache.lock(() => {
        ran = true;
        return Promise.resolve();
      }, { signal: controller.signal }),
      (error) => error === reason,
    );
    assert.equal(ran, false);
    assert.equal(await raw(client, "GET", LOCK_KEY), "live-holder");
    await assert.rejects(
      cache.lock(() => Promise.resolve(), { signal: controller.signal }),
      (error) => error === reason,
      "an aborted signal rejects at once",
    );
    assert.equal(attempts, 2);
  });

  Deno.test(`RedisTokenCache over ${kind}: lock() settles with fn's outcome and releases the lock either way`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const cache = new RedisTokenCache({ redis: client.redis, key: KEY });
    assert.equal(
      await cache.lock(() => Promise.resolve("refreshed")),
      "refreshed",
    );
    const failure = new Error("token endpoint down");
    await assert.rejects(
      cache.lock(() => Promise.reject(failure)),
      (error) => error === failure,
    );
    assert.equal(await raw(client, "EXISTS", LOCK_KEY), 0);
  });

  Deno.test(`RedisTokenCache over ${kind}: Redis stopped mid-run: a fresh token keeps working, a refresh fails naming Redis, and the restarted Redis is used again`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const clock = new FakeClock(1_700_000_000_000);
    const accounts = new FakeAccountsServer({ clock });
    const tokenCache = new RedisTokenCache({ redis: client.redis, key: KEY });
    await tokenCache.set(accounts.issueTokens({ scope: "user-read-private" }));
    await using auth = new AuthorizationCode({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1/callback",
      fetch: accounts.fetch,
      clock,
      retryDelayMs: 0,
      tokenCache,
    });
    const first = await auth.getAccessToken();

    await redis.server.stop();
    assert.equal(await auth.getAccessToken(), first, "served from memory");
    clock.tick(3_600_000);
    const requests = accounts.tokenRequestCount;
    await assert.rejects(auth.getAccessToken(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(
        error.message,
        /^RedisTokenCache: Redis command SET "test-app:spotify-token:lock" NX PX failed: /,
      );
      assert.ok(error.cause instanceof Error, "the client's error");
      return true;
    });
    assert.equal(accounts.tokenRequestCount, requests, "no token request");

    await redis.server.start();
    await client.ready();
    await tokenCache.set(accounts.issueTokens({ scope: "user-read-private" }));
    const second = await auth.getAccessToken();
    assert.notEqual(second, first);
    assert.equal((await tokenCache.get())?.accessToken, second);
  });

  Deno.test(`RedisTokenCache over ${kind}: a token obtained while Redis went down is written when it comes back, and the next refresh uses it`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const clock = new FakeClock(1_700_000_000_000);
    const accounts = new FakeAccountsServer({
      clock,
      refreshTokenRotation: "always",
    });
    let crashOnNextWrite = false;
    const tokenCache = new RedisTokenCache({
      redis: watched(client.redis, async (args) => {
        if (crashOnNextWrite && args[0] === "SET" && args[1] === KEY) {
          crashOnNextWrite = false;
          await redis.server.stop(); // between the refresh and its write
        }
      }),
      key: KEY,
    });
    await tokenCache.set(accounts.issueTokens({ scope: "user-read-private" }));
    await using auth = new AuthorizationCode({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1/callback",
      fetch: accounts.fetch,
      clock,
      retryDelayMs: 0,
      tokenCache,
    });
    await auth.getAccessToken();
    clock.tick(3_600_000);
    crashOnNextWrite = true;
    await assert.rejects(
      auth.getAccessToken(),
      /RedisTokenCache: Redis command SET "test-app:spotify-token" failed/,
    );
    const rotated = await auth.getAccessToken(); // kept in memory
    assert.ok(accounts.inspectAccessToken(rotated), "a valid token");

    await redis.server.start(); // empty: the restart lost every key
    await client.ready();
    clock.tick(3_600_000);
    const next = await auth.getAccessToken();
    assert.notEqual(next, rotated);
    const refreshes = accounts.requests.filter((r) => r.endpoint === "token");
    assert.deepEqual(refreshes.map((r) => r.status), [200, 200]);
    assert.equal((await tokenCache.get())?.accessToken, next);
  });

  Deno.test(`RedisTokenCache over ${kind}: a frozen Redis makes each command fail after commandTimeoutMs, naming it`, async () => {
    await using redis = await redisWith(kind);
    const [client] = redis.clients;
    const cache = new RedisTokenCache({
      redis: client.redis,
      key: KEY,
      commandTimeoutMs: 100,
    });
    await cache.set(USER_TOKEN);
    redis.server.freeze();
    try {
      await assert.rejects(
        cache.get(),
        /^Error: RedisTokenCache: Redis command GET "test-app:spotify-token" got no reply within 100 ms/,
      );
      await assert.rejects(
        cache.lock(() => Promise.resolve()),
        /SET "test-app:spotify-token:lock" NX PX got no reply within 100 ms/,
      );
    } finally {
      redis.server.thaw();
    }
    assert.deepEqual(await cache.get(), USER_TOKEN);
    // The attempt that timed out took the lock late; it was given back.
    assert.equal(await cache.lock(() => Promise.resolve("again")), "again");
  });
}
