// Lock-acquire latency of RedisTokenCache on loopback (p50/p99), which
// `deno bench` cannot report, and the Redis commands of one cold refresh.
//
//   deno run --allow-net=127.0.0.1 --allow-env --allow-read --allow-run \
//     bench/redis_lock_latency.ts
import { AuthorizationCode } from "../auth/authorization_code.ts";
import { type RedisLike, RedisTokenCache } from "../auth/redis_token_cache.ts";
import { FakeAccountsServer } from "../testing/fake_accounts_server.ts";
import { RedisServer } from "../tests/_redis_server.ts";
import {
  CLIENT_KINDS,
  connectRedis,
  type RedisClientKind,
} from "../tests/_redis_clients.ts";

const SAMPLES = 5_000;
const CONTENDERS = 8;
const CONTENDED_SAMPLES = 2_000;

function percentiles(samplesMs: number[]): string {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const show = (ms: number) =>
    ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
  return `p50 ${show(at(0.5))}, p99 ${show(at(0.99))} (n=${sorted.length})`;
}

/** Time from lock() to fn running, one caller at a time. */
async function uncontended(redis: RedisLike): Promise<number[]> {
  const cache = new RedisTokenCache({ redis, key: "latency:uncontended" });
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await cache.lock(() => {
      samples.push(performance.now() - started);
      return Promise.resolve();
    });
  }
  return samples;
}

/** The same with CONTENDERS connections taking turns as fast as they can. */
async function contended(
  port: number,
  kind: RedisClientKind,
): Promise<number[]> {
  const clients = await Promise.all(
    Array.from({ length: CONTENDERS }, () => connectRedis(kind, port)),
  );
  const samples: number[] = [];
  try {
    await Promise.all(clients.map(async (client) => {
      const cache = new RedisTokenCache({
        redis: client.redis,
        key: "latency:contended",
      });
      while (samples.length < CONTENDED_SAMPLES) {
        const started = performance.now();
        await cache.lock(() => {
          samples.push(performance.now() - started);
          // Hold it about as long as a token request to Spotify would not:
          // a minimum, so waiters measure the lock itself.
          return Promise.resolve();
        });
      }
    }));
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
  return samples;
}

/** The commands one forced refresh sends, and its latency. */
async function refresh(redis: RedisLike): Promise<[string[], number[]]> {
  const sent: string[] = [];
  const counting: RedisLike = {
    sendCommand(args) {
      sent.push(
        args[0] === "SET" && args.includes("NX")
          ? "SET <key>:lock NX PX"
          : args[0] === "EVAL"
          ? "EVAL (release)"
          : `${args[0]} <key>`,
      );
      return redis.sendCommand(args);
    },
  };
  const accounts = new FakeAccountsServer();
  const tokenCache = new RedisTokenCache({
    redis: counting,
    key: "latency:refresh",
  });
  await tokenCache.set(accounts.issueTokens({ scope: "user-read-private" }));
  await using auth = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: "http://127.0.0.1/callback",
    fetch: accounts.fetch,
    tokenCache,
  });
  await auth.getAccessToken();
  sent.length = 0;
  await auth.getAccessToken({ forceRefresh: true });
  const commands = [...sent];
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES / 5; i++) {
    const started = performance.now();
    await auth.getAccessToken({ forceRefresh: true });
    samples.push(performance.now() - started);
  }
  return [commands, samples];
}

await using server = await RedisServer.start();
console.log(`redis-server on 127.0.0.1:${server.port}, loopback`);
for (const kind of CLIENT_KINDS) {
  await using client = await connectRedis(kind, server.port);
  const ping: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await client.redis.sendCommand(["PING"]);
    ping.push(performance.now() - started);
  }
  console.log(`${kind}: PING round trip: ${percentiles(ping)}`);
  console.log(
    `${kind}: lock acquire, uncontended: ${
      percentiles(await uncontended(client.redis))
    }`,
  );
  console.log(
    `${kind}: lock acquire, ${CONTENDERS} connections contending: ${
      percentiles(await contended(server.port, kind))
    }`,
  );
  const [commands, samples] = await refresh(client.redis);
  console.log(
    `${kind}: forced refresh (in-process token endpoint): ${
      percentiles(samples)
    }; commands: ${commands.join(", ")}`,
  );
}
