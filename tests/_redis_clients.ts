// The two Redis clients users bring, set up the way the README recommends
// (fail fast while Redis is down), each handed to the cache as documented.
// Tests only (the module has no dependencies), pinned here, in one place.
// deno-lint-ignore no-import-prefix
import { createClient } from "npm:redis@6.3.1";
// deno-lint-ignore no-import-prefix
import { Redis } from "npm:ioredis@6.0.0";
import type { RedisLike } from "../auth/redis_token_cache.ts";

/** Which client library. */
export type RedisClientKind = "node-redis" | "ioredis";

export const CLIENT_KINDS: readonly RedisClientKind[] = [
  "node-redis",
  "ioredis",
];

/** A connected client: `redis` is what a user passes to the cache. */
export interface TestRedisClient extends AsyncDisposable {
  readonly kind: RedisClientKind;
  readonly redis: RedisLike;
  /** Resolves once the client is connected (again, after an outage). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Connects a client of `kind` to the Redis at `port` on 127.0.0.1. */
export async function connectRedis(
  kind: RedisClientKind,
  port: number,
): Promise<TestRedisClient> {
  if (kind === "node-redis") {
    const client = createClient({
      socket: {
        host: "127.0.0.1",
        port,
        // After an outage, try again soon and keep trying.
        reconnectStrategy: () => 20,
      },
      disableOfflineQueue: true,
    });
    // Without a listener, a lost connection is an uncaught error.
    client.on("error", () => {});
    await client.connect();
    const close = () => {
      client.destroy();
      return Promise.resolve();
    };
    return {
      kind,
      redis: client, // the client itself: the cache calls it as a method
      ready: () =>
        client.isReady
          ? Promise.resolve()
          : new Promise((resolve) => client.once("ready", resolve)),
      close,
      [Symbol.asyncDispose]: close,
    };
  }
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 20,
  });
  client.on("error", () => {});
  await client.connect();
  const close = () => {
    client.disconnect();
    return Promise.resolve();
  };
  return {
    kind,
    redis: { sendCommand: (args) => client.call(args[0], ...args.slice(1)) },
    ready: () =>
      client.status === "ready"
        ? Promise.resolve()
        : new Promise((resolve) => client.once("ready", () => resolve())),
    close,
    [Symbol.asyncDispose]: close,
  };
}
