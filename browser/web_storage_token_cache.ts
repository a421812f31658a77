/**
 * {@linkcode WebStorageTokenCache}: a token in `localStorage`, shared by the
 * tabs of one origin, with one refresh across them via `navigator.locks`.
 *
 * @module
 */

import type {
  TokenCache,
  TokenCacheLockOptions,
  TokenInfo,
} from "../auth/token.ts";
import {
  assertStorableToken,
  SNAKE_CASE_FIELDS,
  snakeCaseRecord,
  tokenFromRecord,
} from "../auth/_cache_token.ts";

const OWNER = "WebStorageTokenCache";

/**
 * The part of the Web Storage API (`localStorage`, `sessionStorage`) this
 * module uses. Typed here so that nothing needs the DOM type library.
 *
 * @example An in-memory storage for tests
 * ```ts
 * import type { StorageLike } from "@spotify-sdk/auth/browser";
 *
 * const items = new Map<string, string>();
 * const storage: StorageLike = {
 *   getItem: (key) => items.get(key) ?? null,
 *   setItem: (key, value) => void items.set(key, value),
 *   removeItem: (key) => void items.delete(key),
 * };
 * ```
 */
export interface StorageLike {
  /** The value stored under `key`, or `null`. */
  getItem(key: string): string | null;
  /** Stores `value` under `key`. */
  setItem(key: string, value: string): void;
  /** Removes `key`; removing a missing key is not an error. */
  removeItem(key: string): void;
  /** How many keys are stored (lets old sign-in entries be pruned). */
  readonly length?: number;
  /** The name of the `index`-th key, or `null` (lets old entries be pruned). */
  key?(index: number): string | null;
}

/**
 * Options of {@linkcode LockManagerLike.request}: the part of the Web Locks
 * API's `LockOptions` this module uses.
 */
export interface LockRequestOptionsLike {
  /** Stops waiting for the lock, rejecting with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * The part of the Web Locks API (`navigator.locks`) this module uses: a lock
 * shared by every tab and worker of one origin, released when the callback
 * settles or its tab closes.
 *
 * @example One callback at a time in this process, where there is no Web Locks API
 * ```ts
 * import {
 *   type LockManagerLike,
 *   WebStorageTokenCache,
 * } from "@spotify-sdk/auth/browser";
 *
 * let queue: Promise<unknown> = Promise.resolve();
 * const locks = {
 *   request(_name: string, ...args: unknown[]): Promise<unknown> {
 *     // The callback is the last argument, after the optional options.
 *     const callback = args.at(-1) as (lock: null) => Promise<unknown>;
 *     const result = queue.then(() => callback(null));
 *     queue = result.catch(() => {});
 *     return result;
 *   },
 * } as LockManagerLike;
 * const cache = new WebStorageTokenCache({ key: "example:locks", locks });
 * ```
 */
export interface LockManagerLike {
  /** Runs `callback` while holding the lock `name`. */
  request<T>(
    name: string,
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
  /** Runs `callback` while holding the lock `name`; `options.signal` stops waiting. */
  request<T>(
    name: string,
    options: LockRequestOptionsLike,
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
}

/** Options of {@linkcode WebStorageTokenCache}. */
export interface WebStorageTokenCacheOptions {
  /**
   * The storage key of the token; the Web Lock is named `key + ":lock"`.
   *
   * @default {"spotify-sdk:token"}
   */
  key?: string;
  /**
   * Where the token lives.
   *
   * @default {globalThis.localStorage}
   */
  storage?: StorageLike;
  /**
   * The lock manager that makes tabs refresh one at a time; `null` runs
   * `lock()` callbacks directly.
   *
   * @default {globalThis.navigator.locks}
   */
  locks?: LockManagerLike | null;
}

/**
 * A {@linkcode TokenCache} in Web Storage (`localStorage` by default), for
 * single-page apps: the token survives reloads and is shared by every tab of
 * the origin, and `lock()` uses `navigator.locks` so that when the token
 * expires, one tab refreshes it and the others read the result. The value is
 * the JSON of `FileTokenCache` (the Python SDK's snake_case keys plus
 * `authorized_at`). Works in Deno too, with its `localStorage`.
 *
 * Anything the page's scripts can read, an XSS bug can read too: a browser
 * app keeps its tokens where its code can reach them.
 *
 * @example One provider per tab, one refresh for all tabs
 * ```ts
 * import { AuthorizationCode } from "@spotify-sdk/auth";
 * import { WebStorageTokenCache } from "@spotify-sdk/auth/browser";
 *
 * const auth = new AuthorizationCode({
 *   clientId: "your-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 *   tokenCache: new WebStorageTokenCache(),
 * });
 * ```
 */
export class WebStorageTokenCache implements TokenCache {
  readonly #key: string;
  readonly #storage: StorageLike;
  readonly #locks: LockManagerLike | undefined;

  /**
   * Creates a cache over `storage` (default `localStorage`).
   *
   * @param options The storage key, the storage and the lock manager.
   * @throws {TypeError} If `key` is not a non-empty string, or there is no
   * `localStorage` here and no `storage` was given.
   */
  constructor(options: WebStorageTokenCacheOptions = {}) {
    const key = options.key ?? "spotify-sdk:token";
    if (typeof key !== "string" || key === "") {
      throw new TypeError(`${OWNER}: "key" must be a non-empty string`);
    }
    this.#key = key;
    const storage = options.storage ?? defaultLocalStorage();
    if (
      storage === undefined || typeof storage.getItem !== "function" ||
      typeof storage.setItem !== "function" ||
      typeof storage.removeItem !== "function"
    ) {
      throw new TypeError(
        `${OWNER}: no localStorage in this runtime: pass { storage } with getItem, setItem and removeItem`,
      );
    }
    this.#storage = storage;
    this.#locks = options.locks === null
      ? undefined
      : options.locks ?? defaultLocks();
  }

  /**
   * Reads the stored token. A missing, corrupt or wrongly typed value is a
   * miss.
   *
   * @returns The token, or `undefined`.
   * @throws {Error} Whatever the storage throws (e.g. storage disabled).
   *
   * @example
   * ```ts
   * import { WebStorageTokenCache } from "@spotify-sdk/auth/browser";
   *
   * const cache = new WebStorageTokenCache({ key: "example:get" });
   * console.log(cache.get()); // undefined until a token is stored
   * ```
   */
  get(): TokenInfo | undefined {
    const text = this.#storage.getItem(this.#key);
    if (text === null) return undefined;
    try {
      return tokenFromRecord(JSON.parse(text), SNAKE_CASE_FIELDS);
    } catch {
      return undefined;
    }
  }

  /**
   * Stores `token`, replacing the previous one, for every tab of the origin.
   *
   * @param token The token to keep.
   * @throws {TypeError} If `token` is not a storable {@linkcode TokenInfo}.
   * @throws {Error} Whatever the storage throws (e.g. quota exceeded).
   *
   * @example
   * ```ts
   * import { WebStorageTokenCache } from "@spotify-sdk/auth/browser";
   *
   * const cache = new WebStorageTokenCache({ key: "example:set" });
   * cache.set({ accessToken: "BQD...", expiresAt: Date.now() / 1000 + 3600 });
   * cache.delete();
   * ```
   */
  set(token: TokenInfo): void {
    assertStorableToken(token, OWNER);
    this.#storage.setItem(this.#key, JSON.stringify(snakeCaseRecord(token)));
  }

  /**
   * Removes the stored token (sign-out); removing nothing is fine.
   *
   * @throws {Error} Whatever the storage throws.
   *
   * @example
   * ```ts
   * import { WebStorageTokenCache } from "@spotify-sdk/auth/browser";
   *
   * const cache = new WebStorageTokenCache({ key: "example:delete" });
   * cache.delete();
   * ```
   */
  delete(): void {
    this.#storage.removeItem(this.#key);
  }

  /**
   * Runs `fn` holding the Web Lock `key + ":lock"`, which every tab of the
   * origin shares (and which a closed tab releases); without a lock
   * manager, runs `fn` directly.
   *
   * @param fn The work to do under the lock.
   * @param options `signal` stops waiting for the lock.
   * @returns What `fn` returns.
   * @throws {unknown} What `fn` throws, or `signal.reason` when aborted while
   * waiting.
   *
   * @example
   * ```ts
   * import { WebStorageTokenCache } from "@spotify-sdk/auth/browser";
   *
   * const cache = new WebStorageTokenCache({ key: "example:lock" });
   * const answer = await cache.lock(() => Promise.resolve(42));
   * ```
   */
  lock<T>(fn: () => Promise<T>, options?: TokenCacheLockOptions): Promise<T> {
    const locks = this.#locks;
    if (locks === undefined) return fn();
    const name = `${this.#key}:lock`;
    const signal = options?.signal;
    return signal === undefined
      ? locks.request(name, fn)
      : locks.request(name, { signal }, fn);
  }
}

function defaultLocalStorage(): StorageLike | undefined {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage;
  } catch {
    // Reading localStorage throws when the browser blocks storage.
    return undefined;
  }
}

function defaultLocks(): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator
    ?.locks;
}
