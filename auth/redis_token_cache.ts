/**
 * A token cache in Redis, shared by every process on every machine that
 * talks to the same Redis: one refresh per expiry across a whole fleet.
 *
 * @module
 */

import {
  assertStorableToken,
  SNAKE_CASE_FIELDS,
  snakeCaseRecord,
  tokenFromRecord,
} from "./_cache_token.ts";
import { holdLease, positiveDuration, waitForLock } from "./_cache_backoff.ts";
import { randomHex } from "./_encoding.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { TokenCache, TokenCacheLockOptions, TokenInfo } from "./token.ts";

/**
 * Any Redis client that can send a raw command, typed structurally so the
 * module needs no Redis client of its own.
 *
 * - node-redis (`npm:redis`): pass the client itself.
 * - ioredis (`npm:ioredis`): `{ sendCommand: (args) => redis.call(...args) }`.
 *
 * `sendCommand` is always called as a method of the object passed in
 * (node-redis needs its `this`). Replies may be RESP2 or RESP3 shaped;
 * strings may arrive as `string` or as bytes (`Buffer`, `Uint8Array`).
 *
 * @example ioredis, wrapped in one line
 * ```ts ignore
 * import Redis from "ioredis";
 * import { type RedisLike, RedisTokenCache } from "@spotify-sdk/auth";
 *
 * const client = new Redis({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
 * const redis: RedisLike = {
 *   sendCommand: (args) => client.call(args[0], ...args.slice(1)),
 * };
 * const cache = new RedisTokenCache({ redis, key: "my-app:spotify-token" });
 * ```
 *
 * @example A stand-in that answers every read with "nothing stored"
 * ```ts
 * import { type RedisLike, RedisTokenCache } from "@spotify-sdk/auth";
 *
 * const redis: RedisLike = { sendCommand: () => Promise.resolve(null) };
 * const cache = new RedisTokenCache({ redis, key: "my-app:spotify-token" });
 * console.log(await cache.get()); // undefined
 * ```
 */
export interface RedisLike {
  /**
   * Sends one command (`["GET", "my-key"]`) and resolves with Redis's reply,
   * or rejects with the client's error.
   */
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * Options of {@linkcode RedisTokenCache}.
 *
 * @example One token per app, shorter leases for short jobs
 * ```ts
 * import {
 *   type RedisLike,
 *   RedisTokenCache,
 *   type RedisTokenCacheOptions,
 * } from "@spotify-sdk/auth";
 *
 * // Your node-redis client, for example; here a stand-in.
 * const redis: RedisLike = { sendCommand: () => Promise.resolve(null) };
 * const options: RedisTokenCacheOptions = {
 *   redis,
 *   key: "my-app:spotify-token",
 *   leaseMs: 5_000,
 *   lockTimeoutMs: 15_000,
 * };
 * const cache = new RedisTokenCache(options);
 * ```
 */
export interface RedisTokenCacheOptions {
  /**
   * The client. The cache never connects or closes it. Fail-fast settings
   * let an outage surface at once instead of queueing commands: node-redis
   * `disableOfflineQueue: true`; ioredis `enableOfflineQueue: false,
   * maxRetriesPerRequest: 0`.
   */
  redis: RedisLike;
  /**
   * The Redis key holding the token. The lock lives at `key + ":lock"`;
   * no other key is used.
   */
  key: string;
  /**
   * How long a lock lease lasts unless renewed. The holder renews it every
   * `leaseMs / 3` while its work runs, so only a crashed, frozen or
   * disconnected holder lets it lapse; others then take the lock.
   *
   * @default {10_000}
   */
  leaseMs?: number;
  /**
   * How long {@linkcode RedisTokenCache.lock} waits for a lock held by
   * another process before it rejects with a {@linkcode SpotifyAuthError}
   * whose `code` is `"timeout"`.
   *
   * @default {30_000}
   */
  lockTimeoutMs?: number;
  /**
   * The longest wait for the reply to one command before it rejects naming
   * the command.
   *
   * @default {5_000}
   */
  commandTimeoutMs?: number;
}

const MAX_CLIENT_MESSAGE = 300;

// Each script touches exactly one key, so it runs on Redis Cluster too.
const RENEW_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
/**
 * A {@linkcode TokenCache} in Redis, so that processes on any number of
 * machines share one token and perform one refresh per expiry.
 *
 * The value at `key` is the JSON of the file format of
 * {@linkcode FileTokenCache}: `access_token`, `expires_at` (Unix seconds),
 * `refresh_token`, `scope` and `authorized_at`, absent ones as `null`. A
 * missing, corrupt or wrongly typed value, or a key holding another Redis
 * type, reads as no token.
 *
 * {@linkcode RedisTokenCache.lock} takes `SET <key>:lock <owner> NX PX
 * <leaseMs>`, renews the lease while its work runs, and releases it with a
 * compare-and-delete script, so only the owner ever removes it. A holder
 * that dies loses the lock when its lease expires.
 *
 * Redis errors reject with an `Error` whose message starts
 * `RedisTokenCache:` and names the command, with the client's error as
 * `cause`. (A provider that obtained a token while Redis was failing keeps
 * it in memory and writes it back on its next refresh.)
 *
 * @example Share a token between machines (node-redis)
 * ```ts ignore
 * import { createClient } from "redis";
 * import { AuthorizationCode, RedisTokenCache } from "@spotify-sdk/auth";
 *
 * const redis = await createClient({ url: "redis://cache.internal:6379", disableOfflineQueue: true })
 *   .connect();
 * const auth = new AuthorizationCode({
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   tokenCache: new RedisTokenCache({ redis, key: "my-app:spotify-token" }),
 * });
 * console.log(await auth.getAccessToken());
 * ```
 *
 * @example Any object with sendCommand() works
 * ```ts
 * import { type RedisLike, RedisTokenCache } from "@spotify-sdk/auth";
 *
 * const store = new Map<string, string>();
 * const redis: RedisLike = {
 *   sendCommand([command, key, value]) {
 *     if (command === "SET") store.set(key, value);
 *     return Promise.resolve(command === "GET" ? store.get(key) ?? null : "OK");
 *   },
 * };
 * const cache = new RedisTokenCache({ redis, key: "my-app:spotify-token" });
 * await cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
 * console.log(JSON.parse(store.get("my-app:spotify-token")!).refresh_token); // null
 * ```
 */
export class RedisTokenCache implements TokenCache {
  readonly #redis: RedisLike;
  readonly #key: string;
  readonly #lockKey: string;
  readonly #leaseMs: number;
  readonly #lockTimeoutMs: number;
  readonly #commandTimeoutMs: number;

  /**
   * Creates a cache at `options.key`. Nothing is sent to Redis until the
   * first call.
   *
   * @param options The client, the key and the timings.
   * @throws {TypeError} When `redis` has no `sendCommand` method or `key` is
   * not a non-empty string.
   * @throws {RangeError} When a duration is not a positive finite number.
   */
  constructor(options: RedisTokenCacheOptions) {
    const redis = options?.redis;
    if (
      typeof redis !== "object" || redis === null ||
      typeof redis.sendCommand !== "function"
    ) {
      throw new TypeError(
        "RedisTokenCache: options.redis must be a Redis client with a sendCommand(args) method: a node-redis client itself, or for ioredis { sendCommand: (args) => redis.call(...args) }.",
      );
    }
    const key = options.key;
    if (typeof key !== "string" || key === "") {
      throw new TypeError(
        'RedisTokenCache: options.key must be a non-empty string, e.g. "my-app:spotify-token".',
      );
    }
    this.#redis = redis;
    this.#key = key;
    this.#lockKey = `${key}:lock`;
    this.#leaseMs = Math.ceil(
      positiveDuration("RedisTokenCache", options.leaseMs, 10_000, "leaseMs"),
    );
    this.#lockTimeoutMs = positiveDuration(
      "RedisTokenCache",
      options.lockTimeoutMs,
      30_000,
      "lockTimeoutMs",
    );
    this.#commandTimeoutMs = positiveDuration(
      "RedisTokenCache",
      options.commandTimeoutMs,
      5_000,
      "commandTimeoutMs",
    );
  }

  /**
   * Reads the token with one `GET`.
   *
   * @returns The stored token, or `undefined` when there is none or the
   * stored value is not a usable token.
   * @throws {Error} When Redis fails or does not answer within
   * `commandTimeoutMs`; the message starts `RedisTokenCache:`.
   *
   * @example
   * ```ts
   * import { type RedisLike, RedisTokenCache } from "@spotify-sdk/auth";
   *
   * const redis: RedisLike = {
   *   sendCommand: () => Promise.resolve('{"access_token":"BQD...","expires_at":2e9}'),
   * };
   * const token = await new RedisTokenCache({ redis, key: "k" }).get();
   * console.log(token?.expiresAt); // 2000000000
   * ```
   */
  async get(): Promise<TokenInfo | undefined> {
    let raw: string | undefined;
    try {
      raw = replyText(await this.#send(["GET", this.#key]));
    } catch (error) {
      // Another Redis type at the key: not a token.
      if (!isWrongTypeError(error)) throw error;
    }
    if (raw === undefined) return undefined;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      return undefined;
    }
    return tokenFromRecord(record, SNAKE_CASE_FIELDS);
  }

  /**
   * Replaces the stored token with one `SET`.
   *
   * @param token The token to store.
   * @throws {TypeError} When `token` lacks a non-empty `accessToken` or a
   * finite `expiresAt`, or has a wrongly typed optional field.
   * @throws {Error} When Redis fails or does not answer in time.
   *
   * @example
   * ```ts
   * import { type RedisLike, RedisTokenCache } from "@spotify-sdk/auth";
   *
   * const sent: string[][] = [];
   * const redis: RedisLike = {
   *   sendCommand: (args) => (sent.push(args), Promise.resolve("OK")),
   * };
   * await new RedisTokenCache({ redis, key: "k" })
   *   .set({ accessToken: "BQD...", expiresAt: 2e9 });
   * console.log(sent[0][0]); // "SET"
   * ```
   */
  async set(token: TokenInfo): Promise<void> {
    assertStorableToken(token, "RedisTokenCache");
    const value = JSON.stringify(snakeCaseRecord(token));
    await this.#send(["SET", this.#key, value], {
      secrets: [
        token.accessToken,
        ...(token.refreshToken === undefined ? [] : [token.refreshToken]),
      ],
    });
  }

  /**
   * Removes the stored token with one `DEL`. Removing a missing key is
   * fine.
   *
   * @throws {Error} When Redis fails or does not answer in time.
   *
   * @example
   * ```ts
   * import { type RedisLike, RedisTokenCache } from "@spotify-sdk/auth";
   *
   * const redis: RedisLike = { sendCommand: () => Promise.resolve(0) };
   * await new RedisTokenCache({ redis, key: "k" }).delete();
   * ```
   */
  async delete(): Promise<void> {
    await this.#send(["DEL", this.#key]);
  }

  /**
   * Runs `fn` while holding the lock at `key + ":lock"`, so processes
   * sharing the Redis take turns (one refresh per expiry across all of
   * them). Not re-entrant: calling `lock()` again from inside `fn` waits
   * until it times out.
   *
   * The lock is `SET <key>:lock <owner> NX PX <leaseMs>` with an owner of
   * 16 random bytes, new for each call. Waiters retry with jittered
   * exponential backoff (5 ms up to 100 ms). While `fn` runs the lease is
   * renewed every `leaseMs / 3` (a lost lease does not stop `fn`). When
   * `fn` settles the lock is released by a compare-and-delete script, so it
   * is removed only if it is still ours; a release that fails is left to
   * expire, and `lock()` settles with `fn`'s outcome either way.
   *
   * @typeParam T What `fn` resolves to.
   * @param fn The work to do under the lock.
   * @param options `signal` stops the wait for the lock (the call rejects
   * with `signal.reason`).
   * @returns What `fn` resolves to.
   * @throws {SpotifyAuthError} With `code` `"timeout"` when the lock stayed
   * held by others for `lockTimeoutMs`.
   * @throws {Error} When Redis fails while the lock is being taken (at
   * once, without waiting); the message starts `RedisTokenCache:`.
   * @throws Whatever `fn` throws, after releasing the lock; `signal.reason`
   * when the signal aborts the wait.
   *
   * @example Only one process at a time runs the callback
   * ```ts
   * import { type RedisLike, RedisTokenCache } from "@spotify-sdk/auth";
   *
   * const redis: RedisLike = {
   *   // "OK": the lock was free; 1: the release script deleted it.
   *   sendCommand: ([command]) => Promise.resolve(command === "SET" ? "OK" : 1),
   * };
   * const cache = new RedisTokenCache({ redis, key: "my-app:spotify-token" });
   * console.log(await cache.lock(() => Promise.resolve("refreshed"))); // "refreshed"
   * ```
   */
  async lock<T>(
    fn: () => Promise<T>,
    options?: TokenCacheLockOptions,
  ): Promise<T> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const owner = randomHex(16);
    await this.#acquire(owner, signal);
    return await holdLease(this.#leaseMs, {
      renew: async () => {
        await this.#send([
          "EVAL",
          RENEW_SCRIPT,
          "1",
          this.#lockKey,
          owner,
          String(this.#leaseMs),
        ]);
      },
      release: () => this.#release(owner),
    }, fn);
  }

  #acquire(owner: string, signal?: AbortSignal): Promise<void> {
    const take = ["SET", this.#lockKey, owner, "NX", "PX", `${this.#leaseMs}`];
    return waitForLock(async () => {
      const reply = await this.#send(take, {
        signal,
        // Taken after we stopped waiting: nobody will use it, free it now.
        onAbandoned: (late) => {
          if (replyText(late) === "OK") void this.#release(owner);
        },
      });
      return replyText(reply) === "OK";
    }, {
      timeoutMs: this.#lockTimeoutMs,
      ...(signal === undefined ? {} : { signal }),
      release: () => this.#release(owner),
      timedOut: (waited) =>
        new SpotifyAuthError(
          "timeout",
          `RedisTokenCache timed out after ${waited} ms waiting for the lock at Redis key ${
            JSON.stringify(this.#lockKey)
          }, held by another process (lockTimeoutMs is ${this.#lockTimeoutMs}).`,
        ),
    });
  }

  async #release(owner: string): Promise<void> {
    try {
      await this.#send(["EVAL", RELEASE_SCRIPT, "1", this.#lockKey, owner]);
    } catch {
      // The lease expires by itself; failing here would hide fn's outcome.
    }
  }

  /**
   * Sends one command, bounded by `commandTimeoutMs` and `signal`; failures
   * become an `Error` naming the command and key.
   */
  #send(args: string[], options: SendOptions = {}): Promise<unknown> {
    const { secrets = [], signal, onAbandoned } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const command = describeCommand(args);
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        outcome();
      };
      const onAbort = () => settle(() => reject(signal?.reason));
      const timer = setTimeout(() =>
        settle(() =>
          reject(
            new Error(
              `RedisTokenCache: Redis command ${command} got no reply within ${this.#commandTimeoutMs} ms (commandTimeoutMs).`,
            ),
          )
        ), this.#commandTimeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      let reply: Promise<unknown>;
      try {
        // A method call: node-redis needs its `this`.
        reply = Promise.resolve(this.#redis.sendCommand(args));
      } catch (error) {
        reply = Promise.reject(error);
      }
      reply.then(
        (value) => {
          if (settled) onAbandoned?.(value);
          else settle(() => resolve(value));
        },
        (error: unknown) =>
          settle(() =>
            reject(
              new Error(
                `RedisTokenCache: Redis command ${command} failed: ${
                  clientMessage(error, secrets)
                }`,
                { cause: error },
              ),
            )
          ),
      );
    });
  }
}

interface SendOptions {
  /** The token values a command carries: never in a message. */
  secrets?: readonly string[];
  /** Stop waiting: reject with its reason. */
  signal?: AbortSignal;
  /** Called with a reply that arrived after the wait was given up. */
  onAbandoned?: (reply: unknown) => void;
}

/**
 * A reply as text: RESP2 and RESP3 clients hand strings over as `string` or
 * as bytes (`Buffer` is a `Uint8Array`); nil and anything else is
 * `undefined`.
 */
function replyText(reply: unknown): string | undefined {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  return undefined;
}

function isWrongTypeError(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && /^WRONGTYPE\b/.test(cause.message);
}

const SCRIPT_NAMES = new Map([
  [RENEW_SCRIPT, "(renew the lock)"],
  [RELEASE_SCRIPT, "(release the lock)"],
]);

/** `GET "my-key"`, `EVAL (release the lock) "my-key:lock"`: never a value. */
function describeCommand(args: string[]): string {
  const [command, ...rest] = args;
  if (command === "EVAL") {
    return `EVAL ${SCRIPT_NAMES.get(rest[0]) ?? "(script)"} ${
      JSON.stringify(rest[2])
    }`;
  }
  const flags = command === "SET" && rest.includes("NX") ? " NX PX" : "";
  return `${command} ${JSON.stringify(rest[0])}${flags}`;
}

/**
 * The client's own words, cut short. Clients may echo a command's arguments
 * back (`unknown command ..., with args beginning with: ...`): a message
 * that holds any part of the stored record, or of a token the command
 * carried, is left out (the error's cause keeps it).
 */
function clientMessage(error: unknown, secrets: readonly string[]): string {
  const message = error instanceof Error
    ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}`
    : String(error);
  if (
    secrets.length > 0 &&
    (/access_token|refresh_token/.test(message) ||
      secrets.some((secret) => echoes(message, secret)))
  ) {
    return "the client's message is left out because it repeats what the command carried (see the error's cause).";
  }
  return message.length > MAX_CLIENT_MESSAGE
    ? `${message.slice(0, MAX_CLIENT_MESSAGE)}…`
    : message;
}

/** Whether `message` holds `secret` or a run of 8+ of its characters. */
function echoes(message: string, secret: string): boolean {
  if (secret.length <= 8) return message.includes(secret);
  for (let start = 0; start + 8 <= secret.length; start++) {
    if (message.includes(secret.slice(start, start + 8))) return true;
  }
  return false;
}
