/**
 * A token cache in Deno KV, shared by every process that opens the same
 * store: a local SQLite file or a remote (Deno Deploy) KV.
 *
 * @module
 */

import {
  assertStorableToken,
  CAMEL_CASE_FIELDS,
  tokenFromRecord,
} from "./_cache_token.ts";
import { holdLease, positiveDuration, waitForLock } from "./_cache_backoff.ts";
import { randomHex } from "./_encoding.ts";
import { BUSY_ATTEMPTS, isBusyError, retryBusy } from "./_kv_busy.ts";
import { SpotifyAuthError } from "./errors.ts";
import type {
  Clock,
  TokenCache,
  TokenCacheLockOptions,
  TokenInfo,
} from "./token.ts";

/**
 * A key in a {@linkcode KvLike} store, the same shape as `Deno.KvKey`.
 *
 * @example One token per user of your app
 * ```ts
 * import { type KvKeyLike, KvTokenCache } from "@spotify-sdk/auth";
 *
 * using kv = await Deno.openKv(":memory:");
 * const key: KvKeyLike = ["my-app", "users", 42, "spotify-token"];
 * const cache = new KvTokenCache({ kv, key });
 * await cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
 * console.log((await kv.get(key)).value !== null); // true
 * ```
 */
export type KvKeyLike = readonly (
  | Uint8Array
  | string
  | number
  | bigint
  | boolean
  | symbol
)[];

/**
 * The part of an atomic operation of `Deno.Kv` that
 * {@linkcode KvTokenCache} uses; `Deno.AtomicOperation` satisfies it.
 *
 * @example A Deno.Kv atomic operation fits
 * ```ts
 * import type { KvAtomicOperationLike } from "@spotify-sdk/auth";
 *
 * using kv = await Deno.openKv(":memory:");
 * const operation: KvAtomicOperationLike = kv.atomic()
 *   .check({ key: ["my-lock"], versionstamp: null }) // only if nobody holds it
 *   .set(["my-lock"], "holder-1");
 * const { ok } = await operation.commit();
 * console.log(ok); // true
 * ```
 */
export interface KvAtomicOperationLike {
  /** Makes the commit fail unless `key` still has `versionstamp`
   * (`null`: the key must not exist). */
  check(
    ...checks: { key: KvKeyLike; versionstamp: string | null }[]
  ): KvAtomicOperationLike;
  /** Sets `key` to `value` when the operation commits. */
  set(
    key: KvKeyLike,
    value: unknown,
    options?: { expireIn?: number },
  ): KvAtomicOperationLike;
  /** Deletes `key` when the operation commits. */
  delete(key: KvKeyLike): KvAtomicOperationLike;
  /** Applies every mutation if every check holds; `ok` says which. */
  commit(): Promise<{ readonly ok: boolean }>;
}

/**
 * The part of `Deno.Kv` that {@linkcode KvTokenCache} uses, typed
 * structurally so that code handing a `Deno.Kv` over (or a test double)
 * type-checks without `--unstable-kv`.
 *
 * @example Count the reads a cache makes
 * ```ts
 * import { type KvLike, KvTokenCache } from "@spotify-sdk/auth";
 *
 * using denoKv = await Deno.openKv(":memory:");
 * let reads = 0;
 * const kv: KvLike = {
 *   get: (key) => (reads++, denoKv.get(key)),
 *   set: (key, value, options) => denoKv.set(key, value, options),
 *   delete: (key) => denoKv.delete(key),
 *   atomic: () => denoKv.atomic(),
 * };
 * await new KvTokenCache({ kv }).get();
 * console.log(reads); // 1
 * ```
 */
export interface KvLike {
  /** Reads `key`; `value` and `versionstamp` are `null` when it is absent. */
  get(
    key: KvKeyLike,
  ): Promise<{ readonly value: unknown; readonly versionstamp: string | null }>;
  /** Writes `value` at `key`. */
  set(
    key: KvKeyLike,
    value: unknown,
    options?: { expireIn?: number },
  ): Promise<unknown>;
  /** Deletes `key`. */
  delete(key: KvKeyLike): Promise<void>;
  /** Starts an atomic operation. */
  atomic(): KvAtomicOperationLike;
}

/**
 * Options of {@linkcode KvTokenCache}.
 *
 * @example Shorter leases for a fleet of short jobs
 * ```ts
 * import { KvTokenCache, type KvTokenCacheOptions } from "@spotify-sdk/auth";
 *
 * using kv = await Deno.openKv(":memory:");
 * const options: KvTokenCacheOptions = {
 *   kv,
 *   key: ["my-app", "spotify-token"],
 *   leaseMs: 10_000,
 *   lockTimeoutMs: 5_000,
 * };
 * const cache = new KvTokenCache(options);
 * await cache.lock(() =>
 *   cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 })
 * );
 * ```
 */
export interface KvTokenCacheOptions {
  /**
   * The store, e.g. `await Deno.openKv()` (a local SQLite file; needs
   * `--unstable-kv`), `await Deno.openKv(":memory:")`, or a remote KV. The
   * cache does not close it.
   */
  kv: KvLike;
  /**
   * Where the token is stored. The lock lease lives at `[...key, "lock"]`.
   *
   * @default {["spotify_sdk", "token"]}
   */
  key?: KvKeyLike;
  /**
   * How long a lock lease lasts unless renewed. The holder renews it every
   * `leaseMs / 3` while its work runs, so only a crashed or frozen process
   * lets it lapse; others then take it over.
   *
   * @default {30_000}
   */
  leaseMs?: number;
  /**
   * How long {@linkcode KvTokenCache.lock} waits for the lease before it
   * rejects with a {@linkcode SpotifyAuthError} whose `code` is `"timeout"`.
   *
   * @default {60_000}
   */
  lockTimeoutMs?: number;
  /**
   * The time source for lease expiry (milliseconds since the epoch). All
   * processes sharing the store must agree on the time within a fraction of
   * `leaseMs`.
   *
   * @default {Date}
   */
  clock?: Clock;
}

const DEFAULT_KEY: KvKeyLike = ["spotify_sdk", "token"];

/**
 * A {@linkcode TokenCache} over Deno KV, so that a fleet of processes (on one
 * machine with a local SQLite KV file, or anywhere with a remote KV) shares
 * one token and performs one refresh per expiry.
 *
 * The value at `key` is a plain object with the fields of
 * {@linkcode TokenInfo} (`accessToken`, `expiresAt` in Unix seconds, and
 * `refreshToken`/`scope` when present). A value that is not such an object
 * reads as no token; wrongly-typed optional fields are dropped.
 *
 * {@linkcode KvTokenCache.lock} holds an atomic, expiring lease at
 * `[...key, "lock"]`. Transient `database is locked` errors, which several
 * processes on one SQLite file see under contention, are retried with
 * backoff instead of surfacing.
 *
 * `Deno.openKv` needs `--unstable-kv`; the cache itself only calls the
 * methods of {@linkcode KvLike}.
 *
 * @example Share a token between processes
 * ```ts
 * import { KvTokenCache } from "@spotify-sdk/auth";
 *
 * using kv = await Deno.openKv(":memory:");
 * const cache = new KvTokenCache({ kv, key: ["my-app", "spotify-token"] });
 * await cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
 * console.log((await cache.get())?.expiresAt);
 * ```
 */
export class KvTokenCache implements TokenCache {
  #kv: KvLike;
  #key: KvKeyLike;
  #leaseKey: KvKeyLike;
  #leaseMs: number;
  #lockTimeoutMs: number;
  #clock: Clock;

  /**
   * Creates a cache at `options.key` in `options.kv`. Nothing is read or
   * written until the first call.
   *
   * @param options The store, the key and lock timing.
   * @throws {TypeError} When `kv` is missing or `key` is not a non-empty
   * array.
   * @throws {RangeError} When a duration is not a positive finite number.
   */
  constructor(options: KvTokenCacheOptions) {
    const kv = options?.kv;
    if (
      typeof kv !== "object" || kv === null || typeof kv.get !== "function" ||
      typeof kv.atomic !== "function"
    ) {
      throw new TypeError(
        "KvTokenCache: options.kv must be a Deno.Kv (e.g. await Deno.openKv(), which needs --unstable-kv).",
      );
    }
    const key = options.key ?? DEFAULT_KEY;
    if (!Array.isArray(key) || key.length === 0) {
      throw new TypeError(
        'KvTokenCache: options.key must be a non-empty Deno.KvKey array, e.g. ["my-app", "spotify-token"].',
      );
    }
    this.#kv = kv;
    this.#key = [...key];
    this.#leaseKey = [...key, "lock"];
    this.#leaseMs = positiveDuration(
      "KvTokenCache",
      options.leaseMs,
      30_000,
      "leaseMs",
    );
    this.#lockTimeoutMs = positiveDuration(
      "KvTokenCache",
      options.lockTimeoutMs,
      60_000,
      "lockTimeoutMs",
    );
    this.#clock = options.clock ?? Date;
  }

  /**
   * Reads the token.
   *
   * @returns The stored token, or `undefined` when there is none or the
   * stored value is not a usable token.
   * @throws {Error} When the store keeps failing (a `database is locked`
   * error that outlasts the retries, or any other store error).
   */
  async get(): Promise<TokenInfo | undefined> {
    const entry = await this.#retryBusy("read", () => this.#kv.get(this.#key));
    return tokenFromRecord(entry.value, CAMEL_CASE_FIELDS);
  }

  /**
   * Replaces the stored token.
   *
   * @param token The token to store.
   * @throws {TypeError} When `token` lacks a non-empty `accessToken` or a
   * finite `expiresAt`, or has a non-string optional field.
   * @throws {Error} When the store keeps failing (see `get()`).
   */
  async set(token: TokenInfo): Promise<void> {
    assertStorableToken(token, "KvTokenCache");
    const value: Record<string, unknown> = {
      accessToken: token.accessToken,
      expiresAt: token.expiresAt,
    };
    if (token.refreshToken !== undefined) {
      value.refreshToken = token.refreshToken;
    }
    if (token.scope !== undefined) value.scope = token.scope;
    if (token.authorizedAt !== undefined) {
      value.authorizedAt = token.authorizedAt;
    }
    await this.#retryBusy("write", () => this.#kv.set(this.#key, value));
  }

  /**
   * Removes the stored token (sign-out, a dead refresh token). Removing a
   * missing token is not an error.
   *
   * @returns A promise that settles once the key is gone.
   * @throws {Error} When the store keeps failing (see `get()`).
   *
   * @example
   * ```ts
   * import { KvTokenCache } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * const cache = new KvTokenCache({ kv });
   * await cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
   * await cache.delete();
   * console.log(await cache.get()); // undefined
   * ```
   */
  async delete(): Promise<void> {
    await this.#retryBusy("delete from", () => this.#kv.delete(this.#key));
  }

  /**
   * Runs `fn` while holding the lease at `[...key, "lock"]`, so processes
   * sharing the store take turns (one refresh per expiry across all of
   * them). Not re-entrant: calling `lock()` again from inside `fn` waits
   * until it times out.
   *
   * The lease is taken with an atomic check-and-set; it stores its owner and
   * an `expiresAt` (KV's own `expireIn` deletion is lazy, so a lease past its
   * `expiresAt` counts as free and is taken over with a check on its
   * versionstamp). Waiters retry with jittered exponential backoff (5 ms up
   * to 100 ms). While `fn` runs the lease is renewed every `leaseMs / 3`.
   * It is released when `fn` settles, whether it resolves or throws, and
   * only if it is still ours; a release that fails is left to expire.
   *
   * @typeParam T What `fn` resolves to.
   * @param fn The work to do under the lease.
   * @param options A `signal` that stops the wait for the lease.
   * @returns What `fn` resolves to.
   * @throws {SpotifyAuthError} With `code` `"timeout"` when the lease could
   * not be taken within `lockTimeoutMs`.
   * @throws {unknown} `options.signal.reason` when it aborts while waiting.
   * @throws Whatever `fn` throws, after releasing the lease.
   *
   * @example
   * ```ts
   * import { KvTokenCache } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * const cache = new KvTokenCache({ kv });
   * const token = await cache.lock(async () => {
   *   const cached = await cache.get();
   *   if (cached !== undefined) return cached;
   *   const fresh = { accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 };
   *   await cache.set(fresh);
   *   return fresh;
   * });
   * console.log(token.expiresAt);
   * ```
   */
  async lock<T>(
    fn: () => Promise<T>,
    options?: TokenCacheLockOptions,
  ): Promise<T> {
    const owner = randomHex(16);
    await this.#acquire(owner, options?.signal);
    return await holdLease(this.#leaseMs, {
      renew: () => this.#renew(owner),
      release: () => this.#release(owner),
    }, fn);
  }

  #acquire(owner: string, signal?: AbortSignal): Promise<void> {
    return waitForLock(async () => {
      try {
        const entry = await this.#kv.get(this.#leaseKey);
        const now = this.#clock.now();
        if (leaseIsHeld(entry.value, now)) return false;
        const result = await this.#kv.atomic()
          .check({ key: this.#leaseKey, versionstamp: entry.versionstamp })
          .set(
            this.#leaseKey,
            { owner, expiresAt: now + this.#leaseMs },
            { expireIn: this.#leaseMs },
          )
          .commit();
        return result.ok;
      } catch (error) {
        // Contention on a shared SQLite file: just another failed attempt.
        if (!isBusyError(error)) throw error;
        return false;
      }
    }, {
      timeoutMs: this.#lockTimeoutMs,
      ...(signal === undefined ? {} : { signal }),
      release: () => this.#release(owner),
      timedOut: (waited) =>
        new SpotifyAuthError(
          "timeout",
          `KvTokenCache timed out after ${waited} ms waiting for the lock lease at ${
            describeKey(this.#leaseKey)
          }.`,
        ),
    });
  }

  async #renew(owner: string): Promise<void> {
    const entry = await this.#kv.get(this.#leaseKey);
    if (!isLease(entry.value) || entry.value.owner !== owner) return;
    await this.#kv.atomic()
      .check({ key: this.#leaseKey, versionstamp: entry.versionstamp })
      .set(
        this.#leaseKey,
        { owner, expiresAt: this.#clock.now() + this.#leaseMs },
        { expireIn: this.#leaseMs },
      )
      .commit();
  }

  async #release(owner: string): Promise<void> {
    try {
      await this.#retryBusy("release the lock lease in", async () => {
        const entry = await this.#kv.get(this.#leaseKey);
        if (!isLease(entry.value) || entry.value.owner !== owner) return;
        await this.#kv.atomic()
          .check({ key: this.#leaseKey, versionstamp: entry.versionstamp })
          .delete(this.#leaseKey)
          .commit();
      });
    } catch {
      // The lease expires by itself; failing here would hide fn's outcome.
    }
  }

  #retryBusy<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return retryBusy(operation, (error) =>
      new Error(
        `KvTokenCache could not ${what} the store at ${
          describeKey(this.#key)
        }: still "database is locked" after ${BUSY_ATTEMPTS} attempts.`,
        { cause: error },
      ));
  }
}

interface Lease {
  owner: string;
  expiresAt: number;
}

function isLease(value: unknown): value is Lease {
  return typeof value === "object" && value !== null &&
    typeof (value as Lease).owner === "string" &&
    typeof (value as Lease).expiresAt === "number";
}

/** Whether someone holds a lease right now; junk at the key counts as free. */
function leaseIsHeld(value: unknown, now: number): boolean {
  return isLease(value) && value.expiresAt > now;
}

function describeKey(key: KvKeyLike): string {
  return `[${
    key.map((part) =>
      typeof part === "string"
        ? JSON.stringify(part)
        : typeof part === "bigint"
        ? `${part}n`
        : part instanceof Uint8Array
        ? "Uint8Array"
        : String(part)
    ).join(", ")
  }]`;
}
